package tests

// Many streams in one input (`streams`), through the benthos-sse binary:
// 300 streams delivered exactly and in order per stream, one stream's server
// killed while the others never notice, a stream ending with 204 alone,
// poison confined to its stream, and SIGKILLs with a per-stream checkpoint.

import (
	"bufio"
	"encoding/json"
	"fmt"
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

// streamLine is one message the streams tests' output writes: the stream's
// name, sse_id and the data, as a JSON line.
type streamLine struct {
	S  string `json:"s"`
	ID string `json:"id"`
	D  string `json:"d"`
}

// streamsOutput is the output of the streams tests: one JSON line per
// message, written in one write each (see TestFault_CrashRestart).
func streamsOutput(path string) string {
	return fmt.Sprintf(`pipeline:
  threads: 2
  processors:
    - mapping: 'root = {"s": @sse_stream, "id": @sse_id, "d": content().string()}.format_json(no_indent: true).string() + "\n"'
output:
  file: {path: %q, codec: lines}
`, path)
}

// readStreamLines reads the output so far, skipping a last line torn by a
// kill.
func readStreamLines(t *testing.T, path string) []streamLine {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []streamLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l streamLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // torn by SIGKILL
		}
		out = append(out, l)
	}
	require.NoError(t, sc.Err())
	return out
}

// byStream groups the output's data by stream, in output order.
func byStream(lines []streamLine) map[string][]string {
	m := map[string][]string{}
	for _, l := range lines {
		m[l.S] = append(m[l.S], l.D)
	}
	return m
}

// waitLines waits until the output holds n lines.
func waitLines(t *testing.T, p *binProc, path string, n int) []streamLine {
	t.Helper()
	deadline := time.Now().Add(2 * waitLimit)
	for {
		lines := readStreamLines(t, path)
		if len(lines) >= n {
			return lines
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("%d of %d lines in the output; output:\n%s", len(lines), n, clipOutput(p.Output()))
		}
		time.Sleep(50 * time.Millisecond) // polling a file the process writes
	}
}

func clipOutput(s string) string {
	if len(s) > 8000 {
		return s[:4000] + "\n...\n" + s[len(s)-4000:]
	}
	return s
}

// TestStreams_ManyInOneInput runs one input with 300 streams of 10 events,
// plus four with a story:
//   - "killed", on a server of its own, which is closed after event 5 and
//     listens again: the stream reconnects with Last-Event-ID 5 and the 300
//     others are never reconnected;
//   - "gone", which answers 204: it ends alone, and the input goes on;
//   - "poison", which sends an id holding a control byte and an event over
//     max_event_size: it delivers everything else, and the others are
//     untouched.
//
// Every message carries sse_stream; each stream's events arrive exactly
// once, in order.
func TestStreams_ManyInOneInput(t *testing.T) {
	t.Parallel()
	const n, events = 300, 10
	main := newSSEServer(t, func(w *sseWriter, r *http.Request, _ int) {
		switch name := strings.TrimPrefix(r.URL.Path, "/"); name {
		case "gone":
			w.w.WriteHeader(http.StatusNoContent)
		case "poison":
			w.Write("id: 1\ndata: p1\n\n")
			w.Write("id: 2\x01x\ndata: p2\n\n")
			w.Write("id: 3\ndata: " + strings.Repeat("x", 2048) + "\n\n")
			w.Write("id: 4\ndata: p4\n\n")
			w.Hold()
		default:
			var b strings.Builder
			for i := w.ResumeAfter() + 1; i <= events; i++ {
				fmt.Fprintf(&b, "id: %d\ndata: %s-%d\n\n", i, name, i)
			}
			w.Write(b.String())
			w.Hold()
		}
	})
	var killedOpen atomic.Bool
	killed := newSSEServer(t, func(w *sseWriter, r *http.Request, _ int) {
		from := w.ResumeAfter() + 1
		for i := from; i <= events; i++ {
			if !w.Event(i, fmt.Sprintf("killed-%d", i)) {
				return
			}
			if i == 5 && from == 1 {
				killedOpen.Store(true)
				w.Hold() // until the server is closed
				return
			}
		}
		w.Hold()
	})

	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	var list strings.Builder
	for i := range n {
		fmt.Fprintf(&list, "    - {name: s%d, url: %q}\n", i, fmt.Sprintf("%s/s%d", main.URL(), i))
	}
	fmt.Fprintf(&list, "    - {name: killed, url: %q}\n", killed.URL()+"/k")
	fmt.Fprintf(&list, "    - {name: gone, url: %q}\n", main.URL()+"/gone")
	fmt.Fprintf(&list, "    - {name: poison, url: %q}\n", main.URL()+"/poison")
	config := writeConfigFile(t, dir, "many.yaml", `http: {enabled: false}
logger: {level: info}
input:
  sse:
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
    max_event_size: 1KiB
    streams:
`+list.String()+streamsOutput(out))
	p := startBinary(t, config)

	// Everything but killed's last five.
	want := n*events + 5 + 3
	waitLines(t, p, out, want)
	require.Eventually(t, killedOpen.Load, waitLimit, 10*time.Millisecond)
	killed.Close()
	killed.Relisten()
	lines := waitLines(t, p, out, want+5)
	waitOutput(t, p, "Skipped an event over max_event_size")

	got := byStream(lines)
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		require.Equal(t, seq(name+"-", 1, events), got[name], "stream %s", name)
	}
	assert.Equal(t, seq("killed-", 1, events), got["killed"])
	assert.Equal(t, []string{"p1", "p2", "p4"}, got["poison"], "poison delivers all but the oversized event")
	assert.Empty(t, got["gone"])
	assert.Len(t, lines, want+5, "nothing else, no duplicate")
	for _, l := range lines {
		require.NotEmpty(t, l.S, "a message without sse_stream: %+v", l)
	}

	// The killed stream resumed from its own last event; no other stream
	// reconnected.
	assert.Equal(t, []string{"-", "5"}, lastEventIDs(killed.Requests()))
	perPath := map[string]int{}
	for _, r := range main.Requests() {
		perPath[r.Path]++
	}
	for path, c := range perPath {
		if path != "/gone" {
			assert.Equal(t, 1, c, "requests for %s", path)
		}
	}
	assert.Len(t, perPath, n+2)
	assert.Equal(t, 1, perPath["/gone"], "204 ends the stream: no retry")
	assert.Contains(t, p.Output(), `the server asks clients to stop; ending the stream`)
	assert.Contains(t, p.Output(), `stream=gone`)
	assert.Contains(t, p.Output(), `cannot be sent as Last-Event-ID`)
	assert.False(t, p.Exited(), "the input ended with one stream gone")
	assert.Equal(t, 0, p.Signal(syscall.SIGTERM))
}

// TestStreams_CrashRestartPerStream SIGKILLs the binary twice, at seeded
// random points, while 20 streams with a `file` cache checkpoint flow, then
// runs it to the end (each stream ends with 204 once it sent everything).
// Each restart resumes every stream from its own checkpoint, under its own
// key; no event is lost; duplicates are only what was in flight.
func TestStreams_CrashRestartPerStream(t *testing.T) {
	t.Parallel()
	const streams, last = 20, 400
	rng := rand.New(rand.NewPCG(20261207, 0))
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, _ int) {
		from := w.ResumeAfter() + 1
		if from > last {
			w.w.WriteHeader(http.StatusNoContent)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := from; i <= last; i++ {
			if !w.Write(fmt.Sprintf("id: %d\ndata: %s-%d\n\n", i, name, i)) {
				return
			}
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			case <-w.stop:
				return
			}
		}
	})
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	require.NoError(t, os.Mkdir(ckptDir, 0o755))
	out := filepath.Join(dir, "out.jsonl")
	var list strings.Builder
	for i := range streams {
		fmt.Fprintf(&list, "    - {name: c%d, url: %q}\n", i, fmt.Sprintf("%s/c%d", srv.URL(), i))
	}
	config := writeConfigFile(t, dir, "crash.yaml", fmt.Sprintf(`http: {enabled: false}
logger: {level: info}
input:
  sse:
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
    max_batch_size: 16
    checkpoint: {cache: ckpt, key: many}
    streams:
%scache_resources:
  - label: ckpt
    file: {directory: %q}
`, list.String(), ckptDir)+streamsOutput(out))

	// checkpoints reads every stream's checkpoint (0 when none).
	checkpoints := func() map[string]int {
		m := map[string]int{}
		for i := range streams {
			name := fmt.Sprintf("c%d", i)
			if id, ok := readCheckpoint(t, ckptDir, "many."+name); ok {
				n, err := strconv.Atoi(id)
				require.NoError(t, err)
				m[name] = n
			}
		}
		return m
	}
	// firstRequests returns each stream's first request since before.
	firstRequests := func(before int) map[string]string {
		m := map[string]string{}
		reqs := srv.Requests()[before:]
		for i, id := range lastEventIDs(reqs) {
			name := strings.TrimPrefix(reqs[i].Path, "/")
			if _, ok := m[name]; !ok {
				m[name] = id
			}
		}
		return m
	}
	want := func(ckpt map[string]int) map[string]string {
		m := map[string]string{}
		for i := range streams {
			name := fmt.Sprintf("c%d", i)
			m[name] = "-"
			if c := ckpt[name]; c > 0 {
				m[name] = strconv.Itoa(c)
			}
		}
		return m
	}

	ckpt := map[string]int{}
	for round := range 2 {
		before := len(srv.Requests())
		p := startBinary(t, config)
		// Kill once the output grew by a random share of what is left.
		have := len(readStreamLines(t, out))
		waitLines(t, p, out, have+200+rng.IntN(1500))
		require.Equal(t, -1, p.Signal(syscall.SIGKILL))
		require.Equal(t, want(ckpt), firstRequests(before), "round %d: every stream resumes from its own checkpoint", round)
		now := checkpoints()
		for name, c := range ckpt {
			assert.GreaterOrEqual(t, now[name], c, "stream %s: the checkpoint went back", name)
		}
		ckpt = now
	}
	before := len(srv.Requests())
	p := startBinary(t, config)
	assert.Equal(t, 0, p.Wait(2*waitLimit), "exit code once every stream ended; output:\n%s", clipOutput(p.Output()))
	require.Equal(t, want(ckpt), firstRequests(before), "the last run resumes every stream from its own checkpoint")

	got := byStream(readStreamLines(t, out))
	dups := 0
	for i := range streams {
		name := fmt.Sprintf("c%d", i)
		seen := map[string]int{}
		for _, d := range got[name] {
			seen[d]++
		}
		for j := 1; j <= last; j++ {
			if !assert.NotZero(t, seen[fmt.Sprintf("%s-%d", name, j)], "stream %s: event %d lost", name, j) {
				break
			}
		}
		dups += len(got[name]) - last
		// Within each run a stream's events are in order: every event is
		// the next one, or a restart from an earlier point.
		for k := 1; k < len(got[name]); k++ {
			a, _ := strconv.Atoi(strings.TrimPrefix(got[name][k-1], name+"-"))
			b, _ := strconv.Atoi(strings.TrimPrefix(got[name][k], name+"-"))
			if b != a+1 && b > a {
				t.Errorf("stream %s: %d after %d", name, b, a)
				break
			}
		}
	}
	final := checkpoints()
	for i := range streams {
		name := fmt.Sprintf("c%d", i)
		assert.Equal(t, last, final[name], "stream %s: final checkpoint", name)
	}
	t.Logf("%d streams × %d events, 2 SIGKILLs: lost 0, %d duplicates", streams, last, dups)
	assert.Less(t, dups, streams*last/2, "duplicates are what was in flight at the kills")
}

// TestStreams_MetricLabels: with a streams list the metrics keep their
// names and gain a `stream` label for the first 100 streams; the others
// count under stream="_other" and set no gauge of their own.
func TestStreams_MetricLabels(t *testing.T) {
	t.Parallel()
	const n = 102
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, _ int) {
		w.Write("id: 1\ndata: a\n\nid: 2\ndata: b\n\n")
		w.Hold()
	})
	var list strings.Builder
	for i := range n {
		fmt.Fprintf(&list, "    - {name: s%d, url: %q}\n", i, fmt.Sprintf("%s/s%d", srv.URL(), i))
	}
	h := runInput(t, runOpts{Input: "sse:\n  streams:\n" + list.String(), Metrics: true})
	h.WaitEvents(2 * n)
	assert.Equal(t, int64(2*n), h.Metrics.Get("sse_events_received"))
	assert.Equal(t, int64(2), h.Metrics.Get("sse_events_received", "stream=s0"))
	assert.Equal(t, int64(2), h.Metrics.Get("sse_events_received", "stream=s99"))
	assert.Equal(t, int64(0), h.Metrics.Get("sse_events_received", "stream=s100"))
	assert.Equal(t, int64(4), h.Metrics.Get("sse_events_received", "stream=_other"))
	assert.Equal(t, int64(1), h.Metrics.Get("sse_ready_state", "stream=s42"))
	assert.Equal(t, int64(0), h.Metrics.Get("sse_ready_state", "stream=_other"))
	for _, e := range h.Events() {
		require.Contains(t, []string{"a", "b"}, e.Data)
	}
}

// TestStreams_ExitCode: the input ends once every stream has ended, and the
// binary exits 1 when any of them failed (a status in fail_on), 0 when all
// ended normally.
func TestStreams_ExitCode(t *testing.T) {
	t.Parallel()
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, _ int) {
		switch {
		case r.URL.Path == "/bad":
			w.w.WriteHeader(http.StatusUnauthorized)
		case w.ResumeAfter() == 0:
			w.Event(1, "one")
		default:
			w.w.WriteHeader(http.StatusNoContent)
		}
	})
	for _, tt := range []struct {
		name  string
		paths []string
		code  int
	}{
		{"one failed", []string{"/ok", "/bad"}, 1},
		{"all ended normally", []string{"/ok", "/ok2"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var list strings.Builder
			for _, p := range tt.paths {
				fmt.Fprintf(&list, "    - {url: %q}\n", srv.URL()+p)
			}
			config := writeConfig(t, "sse:\n  reconnect: {initial_interval: 50ms, max_interval: 200ms}\n  fail_on: [401]\n  streams:\n"+list.String(), "output:\n  drop: {}\nlogger: {level: info}\n")
			p := startBinary(t, config)
			assert.Equal(t, tt.code, p.Wait(waitLimit), "output:\n%s", p.Output())
			if tt.code == 1 {
				assert.Contains(t, p.Output(), "401 is listed in fail_on; ending the stream")
			}
		})
	}
}
