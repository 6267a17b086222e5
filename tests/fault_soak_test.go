package tests

// A soak through the benthos-sse binary: a million small events with the
// server dropping the connection every ten thousand.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
