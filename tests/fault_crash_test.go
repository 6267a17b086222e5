package tests

// Delivery through faults of the benthos-sse binary, no event lost and
// none duplicated: crash and restart (SIGKILL at seeded random points, then
// SIGTERM, then a run to the end, all on one file-cache checkpoint and one
// output file), and a soak (a million small events with the server
// dropping the connection every ten thousand).

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readCheckpoint reads the newest valid checkpoint the input wrote to a
// `file` cache directory under key (slots <key>.a and <key>.b, each
// "sse-checkpoint/1 <gen> <crc> <id>"); ok is false when there is none.
func readCheckpoint(t *testing.T, dir, key string) (id string, ok bool) {
	t.Helper()
	newest := int64(-1)
	for _, slot := range []string{key + ".a", key + ".b"} {
		b, err := os.ReadFile(filepath.Join(dir, slot))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		gen, slotID, valid := parseCheckpoint(string(b))
		if !valid {
			continue // torn by a crash: the other slot holds the previous one
		}
		if gen > newest {
			newest, id, ok = gen, slotID, true
		}
	}
	return id, ok
}

// parseCheckpoint decodes one checkpoint slot's value; ok is false for a
// value that is not one, or whose checksum fails (torn by a crash).
func parseCheckpoint(v string) (gen int64, id string, ok bool) {
	parts := strings.SplitN(v, " ", 4)
	if len(parts) != 4 || parts[0] != "sse-checkpoint/1" {
		return 0, "", false
	}
	// As the input does: a torn value fails its checksum.
	gen, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || parts[2] != fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(parts[3]))) {
		return 0, "", false
	}
	return gen, parts[3], true
}

// readNumbers reads an output file of one decimal number per line.
func readNumbers(t *testing.T, path string) []int {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		require.NoError(t, err, "output line %d: %q (a torn line?)", len(out)+1, sc.Text())
		out = append(out, n)
	}
	require.NoError(t, sc.Err())
	return out
}

// numberedServer streams events id = data = n, resuming after the request's
// Last-Event-ID, at a steady pace (the server's own, so that a kill lands
// while events are flowing), up to last; then it ends the response, and
// answers a request that has seen everything with 204, which ends the input.
// When the current connection sends event killAt (if set), it signals
// reached.
type numberedServer struct {
	*sseServer
	last    int
	killAt  atomic.Int64
	reached chan int
}

func newNumberedServer(t *testing.T, last, perTick int, tick time.Duration) *numberedServer {
	s := &numberedServer{last: last, reached: make(chan int, 1)}
	s.sseServer = newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		from := w.ResumeAfter() + 1
		if from > last {
			w.w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Open()
		ticker := time.NewTicker(tick)
		defer ticker.Stop()
		var b strings.Builder
		for i := from; i <= last; {
			b.Reset()
			hit := false
			for end := min(i+perTick, last+1); i < end; i++ {
				fmt.Fprintf(&b, "id: %d\ndata: %d\n\n", i, i)
				hit = hit || int64(i) == s.killAt.Load()
			}
			if !w.Write(b.String()) {
				return
			}
			if hit {
				select {
				case s.reached <- i - 1:
				default:
				}
			}
			select {
			case <-ticker.C:
			case <-r.Context().Done():
				return
			case <-w.stop:
				return
			}
		}
	})
	return s
}

// resumedAfter waits for request number before+1 and returns the
// Last-Event-ID it sent ("-" for none).
func (s *numberedServer) resumedAfter(before int) string {
	reqs := s.WaitRequests(before + 1)
	return lastEventIDs(reqs[before : before+1])[0]
}

// resumeID is the Last-Event-ID a run resuming after event resume sends.
func resumeID(resume int) string {
	if resume > 0 {
		return strconv.Itoa(resume)
	}
	return "-"
}

// awaitKillAt waits until the server sent event killAt (set in killAt
// before p started) and fails run if p exits first or it never comes.
func (s *numberedServer) awaitKillAt(t *testing.T, p *binProc, run, killAt int) {
	t.Helper()
	select {
	case <-s.reached:
	case <-p.done:
		t.Fatalf("run %d exited before event %d; output:\n%s", run, killAt, p.Output())
	case <-time.After(waitLimit):
		t.Fatalf("run %d: event %d was never sent; output:\n%s", run, killAt, p.Output())
	}
}

// TestFault_CrashRestart runs the binary with a `file` cache checkpoint and
// a `file` output against a numbered stream. It is SIGKILLed at ten seeded
// random points and restarted each time; then stopped with SIGTERM; then run
// until the server ends the stream with 204. Every event reaches the output
// at least once; each restart resumes exactly at the checkpoint the killed
// process left, so the duplicates are exactly the events that were written
// but not yet checkpointed when it died; and after SIGTERM the checkpoint is
// the last event in the output.
func TestFault_CrashRestart(t *testing.T) {
	const (
		last      = 30000
		rounds    = 10
		batchSize = 16
		seed      = 20240601
		rate      = 10000 // events/s: 20 every 2ms
	)
	rng := rand.New(rand.NewPCG(seed, 0))
	srv := newNumberedServer(t, last, 20, 2*time.Millisecond) // 10,000 events/s
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	require.NoError(t, os.Mkdir(ckptDir, 0o755))
	out := filepath.Join(dir, "out.txt")
	config := writeConfigFile(t, dir, "crash.yaml", fmt.Sprintf(`
http: {enabled: false}
logger: {level: info}
shutdown_timeout: 10s
input:
  sse:
    url: %q
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
    max_batch_size: %d
    checkpoint: {cache: ckpt, key: crash}
pipeline:
  threads: 1
  processors:
    # One write per line: the lines codec writes a message and its newline
    # in two writes, which a SIGKILL could tear apart.
    - mapping: 'root = content().string() + "\n"'
cache_resources:
  - label: ckpt
    file: {directory: %q}
output:
  file: {path: %q, codec: lines}
`, srv.URL()+"/events", batchSize, ckptDir, out))

	type roundStat struct{ killAt, wrote, outMax, ckpt, inFlight int }
	var stats []roundStat
	resume := 0 // the checkpoint the next run must resume after (0: none)
	lines := 0  // output lines before the next run
	runs := 0
	// startRun starts the binary and checks that it asked to resume after
	// the checkpoint the previous run left.
	startRun := func() *binProc {
		t.Helper()
		before := len(srv.Requests())
		p := startBinary(t, config)
		runs++
		assert.Equal(t, resumeID(resume), srv.resumedAfter(before),
			"run %d must resume at the checkpoint the previous run left", runs)
		return p
	}
	// endRun checks that the run wrote exactly the events after its resume
	// point, in order, and returns the whole output and how much the run
	// wrote.
	endRun := func() (nums []int, wrote int) {
		t.Helper()
		nums = readNumbers(t, out)
		mine := nums[lines:]
		for i, n := range mine {
			if !assert.Equal(t, resume+1+i, n, "run %d: output line %d is not the next event after the resume point %d", runs, lines+i+1, resume) {
				break
			}
		}
		lines = len(nums)
		return nums, len(mine)
	}
	// killRun starts the binary, waits until the server sent event killAt
	// in this run, and sends sig.
	killRun := func(sig os.Signal) (code, killAt int) {
		t.Helper()
		killAt = resume + 1 + 200 + rng.IntN(2500)
		srv.killAt.Store(int64(killAt))
		p := startRun()
		srv.awaitKillAt(t, p, runs, killAt)
		return p.Signal(sig), killAt
	}

	outMax := 0
	for range rounds {
		code, killAt := killRun(syscall.SIGKILL)
		require.Equal(t, -1, code, "killed by SIGKILL")
		nums, wrote := endRun()
		for _, n := range nums[len(nums)-wrote:] {
			outMax = max(outMax, n)
		}
		ckpt := 0
		if id, ok := readCheckpoint(t, ckptDir, "crash"); ok {
			var err error
			ckpt, err = strconv.Atoi(id)
			require.NoError(t, err)
		}
		require.GreaterOrEqual(t, ckpt, resume, "the checkpoint went back")
		require.LessOrEqual(t, ckpt, outMax, "the checkpoint passed the output")
		stats = append(stats, roundStat{killAt, wrote, outMax, ckpt, outMax - ckpt})
		resume = ckpt
	}

	// SIGTERM: a graceful stop writes the final checkpoint, which is then
	// the last event written.
	code, _ := killRun(syscall.SIGTERM)
	assert.Equal(t, 0, code, "exit code after SIGTERM")
	nums, _ := endRun()
	id, ok := readCheckpoint(t, ckptDir, "crash")
	require.True(t, ok)
	require.NotEmpty(t, nums)
	assert.Equal(t, strconv.Itoa(nums[len(nums)-1]), id, "after SIGTERM the checkpoint is the last event in the output")
	resume, _ = strconv.Atoi(id)

	// Run to the end: the server ends the stream and answers 204.
	p := startRun()
	assert.Equal(t, 0, p.Wait(waitLimit), "exit code at the end of the stream; output:\n%s", p.Output())
	nums, _ = endRun()
	id, _ = readCheckpoint(t, ckptDir, "crash")
	assert.Equal(t, strconv.Itoa(last), id, "final checkpoint")
	assert.Equal(t, last, nums[len(nums)-1], "the last run wrote up to the last event")

	count := make([]int, last+1)
	for _, n := range nums {
		require.True(t, n >= 1 && n <= last, "unexpected event %d", n)
		count[n]++
	}
	for n := 1; n <= last; n++ {
		if !assert.NotZero(t, count[n], "event %d lost", n) {
			break
		}
	}
	sumInFlight, maxInFlight := 0, 0
	for _, s := range stats {
		sumInFlight += s.inFlight
		maxInFlight = max(maxInFlight, s.inFlight)
	}
	dups := len(nums) - last
	// A duplicate is an event a run writes again because the previous run
	// wrote it but died before checkpointing it: at most what was in flight
	// at each kill (exactly that when every run gets past the previous
	// run's last event before it is killed).
	assert.LessOrEqual(t, dups, sumInFlight, "duplicates beyond the events in flight at the kills")
	// The checkpoint is written in the background, coalescing: what can be
	// in flight is what the output acknowledged during one checkpoint
	// write, plus the batch being written. That is a time, not a count;
	// half a second of this stream is far above it and far below a
	// checkpoint that stopped moving.
	assert.LessOrEqual(t, maxInFlight, rate/2, "events in flight at a kill")
	t.Logf("seed %d: %d runs (%d SIGKILL, 1 SIGTERM, 1 to the end), %d events at %d/s, %d lines written, %d duplicates (in flight at the kills: %d); in flight at each kill (output max - checkpoint): %v; max %d (max_batch_size %d)",
		seed, runs, rounds, last, rate, len(nums), dups, sumInFlight, inFlights(stats, func(s roundStat) int { return s.inFlight }), maxInFlight, batchSize)
	for i, s := range stats {
		t.Logf("kill %2d: at server event %5d; the run wrote %5d; output max %5d, checkpoint %5d", i+1, s.killAt, s.wrote, s.outMax, s.ckpt)
	}
}

func inFlights[T any](xs []T, f func(T) int) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// TestFault_Soak streams events 1..N (id = data = n) to the binary, ending
// the response cleanly or resetting the connection (alternately) every
// 10,000 events, and answering 204 once everything was sent. Within one
// process a reconnection resumes after the newest received event, so the
// output must be exactly 1..N in order: no loss, no duplicate. It reports
// events/s and the binary's peak RSS. Set FAULT_SOAK_EVENTS to change N
// (-short runs 100,000).
func TestFault_Soak(t *testing.T) {
	events := 1_000_000
	if testing.Short() {
		events = 100_000
	}
	if v := os.Getenv("FAULT_SOAK_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		events = n
	}
	const every = 10_000
	var pid atomic.Int64
	var vmHWM atomic.Value // string, read when the last request arrives
	var drops atomic.Int64
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		from := w.ResumeAfter() + 1
		if from > events {
			vmHWM.Store(procStatus(int(pid.Load()), "VmHWM"))
			w.w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Open()
		buf := make([]byte, 0, 64<<10)
		end := min((from-1)/every*every+every, events) // the next multiple of every
		for i := from; i <= end; i++ {
			buf = append(buf, "id: "...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, "\ndata: "...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, "\n\n"...)
			if len(buf) > 60<<10 || i == end {
				if _, err := w.w.Write(buf); err != nil {
					return
				}
				buf = buf[:0]
			}
		}
		w.w.(http.Flusher).Flush()
		if end == events {
			return
		}
		drops.Add(1)
		if n%2 == 0 {
			w.Abort()
		}
	})
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	config := writeConfigFile(t, dir, "soak.yaml", fmt.Sprintf(`
http: {enabled: false}
logger: {level: warn}
input:
  sse:
    url: %q
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
output:
  file: {path: %q, codec: lines}
`, srv.URL()+"/events", out))

	start := time.Now()
	p := startBinary(t, config)
	pid.Store(int64(p.cmd.Process.Pid))
	code := p.Wait(3 * time.Minute)
	elapsed := time.Since(start)
	require.Equal(t, 0, code, "output:\n%s", p.Output())

	nums := readNumbers(t, out)
	require.Len(t, nums, events, "output count")
	for i, n := range nums {
		if !assert.Equal(t, i+1, n, "output line %d", i+1) {
			break
		}
	}
	reqs := srv.Requests()
	for i, r := range reqs[1:] {
		if !assert.Equal(t, strconv.Itoa(min((i+1)*every, events)), r.LastEventID, "request %d", i+2) {
			break
		}
	}
	// VmHWM is the binary's peak RSS so far, read when it asked for more
	// after the last event. (getrusage through wait4 is no substitute: under
	// gVisor it reports the largest child the test process ever reaped,
	// such as the compiler that TestMain ran.)
	hwm, _ := vmHWM.Load().(string)
	t.Logf("soak: %d events, %d server drops, %d requests, %v, %.0f events/s; binary peak RSS (VmHWM) %s",
		events, drops.Load(), len(reqs), elapsed.Round(time.Millisecond), float64(events)/elapsed.Seconds(), hwm)
	if kb, err := strconv.Atoi(strings.TrimSuffix(hwm, " kB")); err == nil {
		assert.Less(t, kb, 256<<10, "peak RSS (kB)")
	} else {
		t.Logf("VmHWM unavailable (%q): peak RSS not checked", hwm)
	}
}

// procStatus returns a field of /proc/<pid>/status, such as "VmHWM", or
// "n/a".
func procStatus(pid int, field string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}
