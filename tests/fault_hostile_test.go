package tests

// Hostile servers and bad state, through the binary (issue 10): ids that
// cannot be sent, huge ids and log volume, dedupe memory and seeding,
// what crosses a redirect, retry storms, `from:` a FIFO or a directory,
// and checkpoints (generation wrap, huge garbage values).

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"math"
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

// writeConfig writes a benthos-sse config to a temporary file: http off,
// the given input (YAML starting `sse:`) and the rest of the config.
func writeConfig(t *testing.T, input, rest string) string {
	t.Helper()
	return writeConfigFile(t, "", "config.yaml", "http: {enabled: false}\ninput:\n  "+strings.ReplaceAll(strings.TrimSpace(input), "\n", "\n  ")+"\n"+rest)
}

// stdoutLines waits until the binary printed n lines on stdout and returns
// them.
func (p *binProc) stdoutLines(n int) []string {
	p.t.Helper()
	return p.stdoutLinesWithin(n, waitLimit)
}

// stdoutLinesWithin is stdoutLines with its own failure bound.
func (p *binProc) stdoutLinesWithin(n int, limit time.Duration) []string {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		lines := strings.Split(strings.TrimSuffix(p.stdout.String(), "\n"), "\n")
		if p.stdout.Len() > 0 && len(lines) >= n {
			return lines
		}
		if p.Exited() || time.Now().After(deadline) {
			p.t.Fatalf("waited for %d lines on stdout; got %q; output:\n%s", n, p.stdout.String(), p.Output())
		}
		time.Sleep(20 * time.Millisecond) // polling a pipe the process writes
	}
}

// peakRSS returns the binary's VmHWM in bytes, or 0 where /proc does not
// say.
func (p *binProc) peakRSS() uint64 {
	v := procStatus(p.cmd.Process.Pid, "VmHWM")
	kb, err := strconv.ParseUint(strings.TrimSuffix(v, " kB"), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}

// logLines splits the binary's output into lines and returns the number
// of lines and the longest.
func logLines(out string) (n, longest int) {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		n++
		longest = max(longest, len(sc.Text()))
	}
	return n, longest
}

// TestHostile_HugeIDLogsBounded: a server sends an event with a 1 MB id
// and closes every connection. Every log line stays bounded (the id, the
// URL and the error are cut with their length shown), so the log grows by
// a few hundred bytes per reconnection, not by the id.
func TestHostile_HugeIDLogsBounded(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 1<<20)
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Write("id: " + huge + "\ndata: big\n\n")
	})
	config := writeConfig(t, sseYAML(srv.URL()+"/events?api_key=q-SECRET"), "output:\n  drop: {}\nlogger: {level: debug}\n")
	p := startBinary(t, config)
	reqs := srv.WaitRequests(8)
	p.Signal(syscall.SIGTERM)
	out := p.Output()
	lines, longest := logLines(out)
	t.Logf("%d requests (%d with a Last-Event-ID over 4096 bytes): %d log lines, %d bytes, longest line %d bytes",
		len(srv.Requests()), countHugeLEI(srv.Requests()), lines, len(out), longest)
	assert.Less(t, longest, 4096, "longest log line")
	assert.Less(t, len(out), 64<<10+len(srv.Requests())*4096, "log volume")
	assert.Zero(t, countHugeLEI(reqs), "an id over sse.MaxIDLength is never sent")
	assert.NotContains(t, out, "q-SECRET", "query values are not logged")
}

func countHugeLEI(reqs []request) int {
	n := 0
	for _, r := range reqs {
		if len(r.LastEventID) > 4096 {
			n++
		}
	}
	return n
}

// TestHostile_DedupeWindowMemory sends 100 events of 4 MB with ids through
// the binary, with `dedupe: window` and with `none`: the window keeps
// copies of the ids, not the events, so the peak RSS is about the same
// (it was 555-603 MB against 62-87 MB).
func TestHostile_DedupeWindowMemory(t *testing.T) {
	// Parallel: it runs after the sequential tests, whose in-process heap
	// samples must not see the server's buffers.
	t.Parallel()
	const events, size = 100, 4 << 20
	data := strings.Repeat("d", size)
	peak := map[string]uint64{}
	for _, mode := range []string{"none", "window"} {
		srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			if n > 1 {
				w.w.WriteHeader(http.StatusNoContent)
				return
			}
			for i := 1; i <= events; i++ {
				if !w.Write(fmt.Sprintf("id: event-%d\ndata: ", i)) || !w.Write(data) || !w.Write("\n\n") {
					return
				}
			}
			w.Hold()
		})
		config := writeConfig(t, sseYAML(srv.URL(), "dedupe: {mode: "+mode+", window: 1000}"), `
pipeline:
  processors:
    - mapping: 'root = content().length().string()'
output:
  stdout: {codec: lines}
logger: {level: warn}
`)
		p := startBinary(t, config)
		// 400 MiB through the binary: seconds, but a loaded machine needs
		// a wider failure bound.
		lines := p.stdoutLinesWithin(events, 4*waitLimit)
		peak[mode] = p.peakRSS()
		p.Signal(syscall.SIGTERM)
		assert.Equal(t, strconv.Itoa(size), lines[events-1])
		t.Logf("dedupe %s: %d events of %d MiB; peak RSS (VmHWM) %d MiB", mode, events, size>>20, peak[mode]>>20)
	}
	if peak["none"] == 0 {
		t.Skip("VmHWM unavailable: peak RSS not checked")
	}
	assert.Less(t, peak["window"], peak["none"]+64<<20, "dedupe: window peak RSS against none")
}

// TestHostile_MonotonicSeededFromResumePoint starts at last_event_id 5
// against a server that replays 5: with `dedupe: monotonic` it is not
// delivered again; 6 is.
func TestHostile_MonotonicSeededFromResumePoint(t *testing.T) {
	t.Parallel()
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		if n > 1 {
			w.w.WriteHeader(http.StatusNoContent)
			return
		}
		from := w.ResumeAfter()
		w.Write(fmt.Sprintf("id: %d\ndata: e%d\n\nid: %d\ndata: e%d\n\n", from, from, from+1, from+1))
	})
	config := writeConfig(t, sseYAML(srv.URL(), `last_event_id: "5"`, "dedupe: {mode: monotonic}"),
		"output:\n  stdout: {codec: lines}\nlogger: {level: warn}\n")
	p := startBinary(t, config)
	require.Equal(t, 0, p.Wait(waitLimit), p.Output())
	assert.Equal(t, "e6\n", p.stdout.String(), "the replayed resume point is dropped")
	assert.Equal(t, "5", srv.Requests()[0].LastEventID)
}

// TestHostile_Redirects checks what crosses a redirect to another origin:
// the Referer carries at most the origin (never the path and its
// ?api_key=), a 307 that would re-send a POST body there is refused, and
// so is a redirect from https to http. Query values never reach the logs.
func TestHostile_Redirects(t *testing.T) {
	t.Parallel()
	target := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Event(1, "moved")
		w.Hold()
	})
	_, port, _ := strings.Cut(target.Addr(), ":")
	other := "http://localhost:" + port + "/events" // another origin: another host

	t.Run("referer", func(t *testing.T) {
		origin := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			http.Redirect(w.w, r, other, http.StatusFound)
		})
		before := len(target.Requests())
		config := writeConfig(t, sseYAML(origin.URL()+"/start?api_key=k-SECRET"), "output:\n  stdout: {codec: lines}\nlogger: {level: info}\n")
		p := startBinary(t, config)
		reqs := target.WaitRequests(before + 1)
		p.stdoutLines(1)
		p.Signal(syscall.SIGTERM)
		ref := reqs[before].Header.Get("Referer")
		assert.NotContains(t, ref, "SECRET", "the Referer the redirect target saw")
		assert.Contains(t, []string{"", origin.URL() + "/"}, ref, "at most the origin")
		assert.NotContains(t, p.Output(), "k-SECRET", "query values in the logs")
		t.Logf("Referer on the cross-origin hop: %q", ref)
	})
	t.Run("307 with a body", func(t *testing.T) {
		origin := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			http.Redirect(w.w, r, other, http.StatusTemporaryRedirect)
		})
		before := len(target.Requests())
		config := writeConfig(t, sseYAML(origin.URL()+"/v1/chat", "method: POST", `body: '{"prompt": "p-SECRET"}'`),
			"output:\n  drop: {}\nlogger: {level: info}\n")
		p := startBinary(t, config)
		origin.WaitRequests(2) // refused, then retried
		p.Signal(syscall.SIGTERM)
		assert.Len(t, target.Requests(), before, "the body went to the other origin")
		assert.Contains(t, p.Output(), "would re-send the request body")
		assert.NotContains(t, p.Output(), "p-SECRET")
	})
	t.Run("https to http", func(t *testing.T) {
		tlsOrigin := newTLSSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			http.Redirect(w.w, r, target.URL()+"/plain", http.StatusFound)
		})
		before := len(target.Requests())
		config := writeConfig(t, sseYAML(tlsOrigin.URL()+"/events", fmt.Sprintf("tls: {enabled: true, root_cas_file: %q}", tlsOrigin.CAFile())),
			"output:\n  drop: {}\nlogger: {level: info}\n")
		p := startBinary(t, config)
		waitOutput(t, p, "from https to http")
		p.Signal(syscall.SIGTERM)
		assert.Len(t, target.Requests(), before, "the stream was fetched in clear")
	})
}

// waitOutput waits until the binary's output contains s.
func waitOutput(t *testing.T, p *binProc, s string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(p.Output(), s) {
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("waited for %q in the output:\n%s", s, p.Output())
		}
		time.Sleep(20 * time.Millisecond) // polling a pipe the process writes
	}
}

// TestHostile_MaxIntervalZeroNoStorm runs reconnect.max_interval: 0s (run
// with --chilled, past lint) against a server answering 503 with
// Retry-After: 60, which made 49 requests in 5 s: now the binary refuses
// the config when the input is built, naming the field, or (if a later
// version gives 0s a meaning) makes at most a few requests in 5 s.
func TestHostile_MaxIntervalZeroNoStorm(t *testing.T) {
	t.Parallel()
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.w.Header().Set("Retry-After", "60")
		w.w.WriteHeader(http.StatusServiceUnavailable)
	})
	config := writeConfig(t, "sse:\n  url: "+srv.URL()+"\n  reconnect: {initial_interval: 500ms, max_interval: 0s}\n",
		"output:\n  drop: {}\nlogger: {level: info}\n")
	p := startBin(t, binOpts{}, "run", "--chilled", config)
	deadline := time.Now().Add(waitLimit)
	for !p.Exited() && len(srv.Requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling for either outcome
	}
	if p.Exited() {
		assert.NotEqual(t, 0, p.Wait(time.Second), "exit code")
		assert.Contains(t, p.Output(), `field "reconnect.max_interval"`)
		assert.Empty(t, srv.Requests())
		t.Logf("max_interval: 0s is refused at start: %s", lastLine(p.Output()))
		return
	}
	time.Sleep(5 * time.Second) // the observation window
	n := len(srv.Requests())
	p.Signal(syscall.SIGTERM)
	t.Logf("max_interval: 0s against 503 Retry-After: 60: %d requests in 5s", n)
	assert.LessOrEqual(t, n, 3, "requests in 5 s")
}

// TestHostile_FromFIFOAndDirectory: SIGTERM ends the binary promptly
// whether `from:` is a FIFO nobody writes to yet (the open blocks) or one a
// writer holds open silently; `from:` a directory fails at start, naming
// the field, with a non-zero exit.
func TestHostile_FromFIFOAndDirectory(t *testing.T) {
	t.Parallel()
	for _, writer := range []bool{false, true} {
		t.Run(fmt.Sprintf("writer %v", writer), func(t *testing.T) {
			t.Parallel()
			fifo := filepath.Join(t.TempDir(), "events.fifo")
			require.NoError(t, syscall.Mkfifo(fifo, 0o600))
			config := writeConfig(t, fmt.Sprintf("sse:\n  from: %q\n", fifo), "output:\n  stdout: {codec: lines}\nlogger: {level: info}\n")
			p := startBinary(t, config)
			if writer {
				f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until the binary opens it
				require.NoError(t, err)
				t.Cleanup(func() { f.Close() })
				_, err = f.WriteString("data: one\n\n")
				require.NoError(t, err)
				p.stdoutLines(1)
			} else {
				waitOutput(t, p, "Output type stdout is now active")
			}
			start := time.Now()
			code := p.Signal(syscall.SIGTERM)
			took := time.Since(start)
			t.Logf("from: a FIFO (writer %v): SIGTERM to exit %v, exit code %d", writer, took.Round(time.Millisecond), code)
			assert.Less(t, took, 5*time.Second, "SIGTERM to exit (shutdown_timeout is 20s)")
			assert.Equal(t, 0, code)
		})
	}
	t.Run("directory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		config := writeConfig(t, fmt.Sprintf("sse:\n  from: %q\n", dir), "output:\n  drop: {}\n")
		res := runBin(t, repoRoot, nil, nil, "run", config)
		assert.NotEqual(t, 0, res.code, "exit code")
		assert.Contains(t, res.output(), `field "from"`)
		assert.Contains(t, res.output(), "is a directory")
	})
}

// checkpointValue is a checkpoint as the input writes it to each slot.
func checkpointValue(gen uint64, id string) string {
	return fmt.Sprintf("sse-checkpoint/1 %d %08x %s", gen, crc32.ChecksumIEEE([]byte(id)), id)
}

// checkpointConfig is the rest of a config with a `file` cache checkpoint
// in dir under key "k".
func checkpointConfig(dir string) string {
	return fmt.Sprintf("cache_resources:\n  - label: ckpt\n    file: {directory: %q}\noutput:\n  stdout: {codec: lines}\nlogger: {level: info}\n", dir)
}

// TestHostile_CheckpointGenerationWraps starts from a checkpoint at
// generation 2^64-1 (id 5), delivers event 6 (one checkpoint write, at
// generation 0) and restarts: the restart resumes after 6. Comparing
// generations as plain integers made the stale copy (5) win forever.
func TestHostile_CheckpointGenerationWraps(t *testing.T) {
	t.Parallel()
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Event(w.ResumeAfter()+1, "e")
		w.Hold()
	})
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "k.b"), []byte(checkpointValue(math.MaxUint64, "5")), 0o600))
	config := writeConfig(t, sseYAML(srv.URL(), "checkpoint: {cache: ckpt, key: k}"), checkpointConfig(dir))
	p := startBinary(t, config)
	p.stdoutLines(1)
	require.Equal(t, 0, p.Signal(syscall.SIGTERM), p.Output())
	p = startBinary(t, config)
	reqs := srv.WaitRequests(2)
	p.Signal(syscall.SIGTERM)
	assert.Equal(t, []string{"5", "6"}, lastEventIDs(reqs), "Last-Event-ID of each run")
}

// TestHostile_CheckpointHugeGarbage starts with a 64 MiB garbage value in a
// checkpoint slot (checkpoint-shaped, the worst case for a decoder): the
// binary starts, warns, and asks for the stream from the start. The input
// rejects the value by its size before copying or decoding it (which
// TestCheckpoint_HugeValueNotCopied checks allocation by allocation); the
// core `file` cache still reads the whole value with io.ReadAll, which
// peaks at about 2.5 times its size. The peak RSS is logged, not asserted:
// it depends on when the collector runs on a loaded machine (187-228 MiB
// here, against 251 MiB when the input copied the value).
func TestHostile_CheckpointHugeGarbage(t *testing.T) {
	t.Parallel() // after the sequential tests, away from their heap samples
	const size = 64 << 20
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Event(100+n, "e")
		w.Hold()
	})
	peak := map[string]uint64{}
	for _, tt := range []struct{ name, value string }{
		{"valid", checkpointValue(1, "7")},
		{"garbage", checkpointValue(1, "")[:len("sse-checkpoint/1 1 00000000 ")] + strings.Repeat("g", size)},
	} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "k.a"), []byte(tt.value), 0o600))
		before := len(srv.Requests())
		p := startBinary(t, writeConfig(t, sseYAML(srv.URL(), "checkpoint: {cache: ckpt, key: k}"), checkpointConfig(dir)))
		reqs := srv.WaitRequests(before + 1)
		p.stdoutLines(1)
		peak[tt.name] = p.peakRSS()
		p.Signal(syscall.SIGTERM)
		t.Logf("checkpoint %s (%d bytes): peak RSS (VmHWM) %d MiB; Last-Event-ID %q", tt.name, len(tt.value), peak[tt.name]>>20, reqs[before].LastEventID)
		if tt.name == "garbage" {
			assert.False(t, reqs[before].HasLEI, "resumed from garbage")
			assert.Contains(t, p.Output(), `Ignoring checkpoint key \"k.a\"`)
		}
	}
}

// TestHostile_UnsendableID: a server sends an id with a control byte
// (which net/http cannot send back as Last-Event-ID), then an event
// without an id, and ends the response. The input reconnects at once from
// the last sendable id, every event is delivered with its raw id in sse_id,
// and the checkpoint never holds the bad id. A restart from a checkpoint
// that does hold one (hand-written, or left by an older version) reaches
// the server, with a warning.
func TestHostile_UnsendableID(t *testing.T) {
	t.Parallel()
	for _, poison := range []string{"2\x01x", "2\x1b[31m", "2\x7f", strings.Repeat("9", 5000)} {
		t.Run(fmt.Sprintf("%.8q", poison), func(t *testing.T) {
			t.Parallel()
			var ended atomic.Int64
			srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
				if n == 1 {
					w.Write("id: 1\ndata: a\n\nid: " + poison + "\ndata: b\n\ndata: c\n\n")
					ended.Store(time.Now().UnixNano())
					return
				}
				w.Event(w.ResumeAfter()+2, "d")
				w.Hold()
			})
			dir := t.TempDir()
			config := writeConfig(t, sseYAML(srv.URL(), "checkpoint: {cache: ckpt, key: k}"), `
pipeline:
  processors:
    - mapping: 'root = content().string() + " " + metadata("sse_id").length().string()'
`+checkpointConfig(dir))
			p := startBinary(t, config)
			reqs := srv.WaitRequests(2)
			lines := p.stdoutLines(4)
			p.Signal(syscall.SIGTERM)
			after := time.Duration(reqs[1].At.UnixNano() - ended.Load())
			t.Logf("id %.12q: reconnected %v after the response ended, Last-Event-ID %q", poison, after.Round(time.Millisecond), reqs[1].LastEventID)
			assert.Less(t, after, 3*time.Second, "a new request after the poison id")
			assert.Equal(t, "1", reqs[1].LastEventID, "resumed from the last sendable id")
			assert.Equal(t, []string{"a 1", fmt.Sprintf("b %d", len(poison)), fmt.Sprintf("c %d", len(poison)), "d 1"}, lines, "events and the length of their sse_id")
			id, ok := readCheckpoint(t, dir, "k")
			assert.True(t, ok)
			assert.Equal(t, "3", id, "the checkpoint")
			assert.Contains(t, p.Output(), "cannot be sent as Last-Event-ID")
		})
	}
	t.Run("poisoned checkpoint", func(t *testing.T) {
		t.Parallel()
		srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			w.Event(10+n, "e")
			w.Hold()
		})
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "k.a"), []byte(checkpointValue(4, "4")), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "k.b"), []byte(checkpointValue(5, "5\x01x")), 0o600))
		p := startBinary(t, writeConfig(t, sseYAML(srv.URL(), "checkpoint: {cache: ckpt, key: k}"), checkpointConfig(dir)))
		reqs := srv.WaitRequests(1)
		p.stdoutLines(1)
		p.Signal(syscall.SIGTERM)
		assert.Equal(t, "4", reqs[0].LastEventID, "resumed from the sendable slot")
		assert.Contains(t, p.Output(), `its ID cannot be sent as Last-Event-ID`)
	})
	t.Run("last_event_id", func(t *testing.T) {
		t.Parallel()
		config := writeConfig(t, "sse:\n  url: http://127.0.0.1:1/\n  last_event_id: \"abc\\u0001\"\n", "output:\n  drop: {}\n")
		res := runBin(t, repoRoot, nil, nil, "run", "--chilled", config)
		assert.NotEqual(t, 0, res.code)
		assert.Contains(t, res.output(), "last_event_id")
	})
}

// TestHostile_HugeMaxEventSize: max_event_size: 2^63-1 (which skipped
// every event, then panicked on a line over 64 KiB) is refused when the
// input is built, naming the field, even past lint with --chilled; the
// largest accepted value (1 GiB) parses a 200 KiB line. No panic either
// way.
func TestHostile_HugeMaxEventSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		limit string
		ok    bool
	}{
		{"9223372036854775807", false},
		{"1073741824", true},
	} {
		t.Run(tt.limit, func(t *testing.T) {
			t.Parallel()
			srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
				if n > 1 {
					w.w.WriteHeader(http.StatusNoContent)
					return
				}
				w.Write("id: 1\ndata: " + strings.Repeat("z", 200<<10) + "\n\nid: 2\ndata: small\n\n")
			})
			config := writeConfig(t, sseYAML(srv.URL(), "max_event_size: "+tt.limit), `
pipeline:
  processors:
    - mapping: 'root = content().length().string()'
output:
  stdout: {codec: lines}
logger: {level: info}
`)
			res := runBin(t, repoRoot, nil, nil, "run", "--chilled", config)
			assert.NotContains(t, res.output(), "panic")
			if !tt.ok {
				assert.NotEqual(t, 0, res.code, "exit code")
				assert.Contains(t, res.output(), `field "max_event_size"`)
				return
			}
			assert.Equal(t, 0, res.code, res.output())
			assert.Equal(t, "204800\n5\n", res.stdout)
		})
	}
}

// TestHostile_UnsendableIDCounted runs the input in process against a
// server that sends five unsendable ids: each is counted in
// sse_ids_unsendable, and the warning is logged for the 1st, 2nd and 4th
// only, so a server sending one with every event cannot flood the log.
func TestHostile_UnsendableIDCounted(t *testing.T) {
	noLeaks(t)
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		for i := 1; i <= 5; i++ {
			w.Write(fmt.Sprintf("id: %d\x01\ndata: e%d\n\n", i, i))
		}
		w.Hold()
	})
	h := runInput(t, runOpts{Input: sseYAML(srv.URL()), Metrics: true})
	h.WaitEvents(5)
	h.Stop()
	assert.Equal(t, int64(5), h.Metrics.Get("sse_ids_unsendable"))
	assert.Len(t, h.Logs.Matching("cannot be sent as Last-Event-ID"), 3, "warnings")
}

// TestHostile_DefaultCheckpointKeysDiffer runs two inputs, for two
// streams, one after the other on one `file` cache, both leaving
// checkpoint.key unset: B does not resume from A's checkpoint (with one
// fixed default key, it did, and A then skipped its own events), and a
// restart of A resumes from its own.
func TestHostile_DefaultCheckpointKeysDiffer(t *testing.T) {
	t.Parallel()
	stream := func(name string) *sseServer {
		return newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			from := w.ResumeAfter()
			w.Event(from+1, fmt.Sprintf("%s%d", name, from+1))
			w.Hold()
		})
	}
	a, b := stream("a"), stream("b")
	dir := t.TempDir()
	run := func(srv *sseServer) request {
		t.Helper()
		before := len(srv.Requests())
		p := startBinary(t, writeConfig(t, sseYAML(srv.URL()+"/events", "checkpoint: {cache: ckpt}"), checkpointConfig(dir)))
		reqs := srv.WaitRequests(before + 1)
		p.stdoutLines(1)
		require.Equal(t, 0, p.Signal(syscall.SIGTERM), p.Output())
		return reqs[before]
	}
	run(a)
	run(a) // A's checkpoint is now 2
	gotB := run(b)
	gotA := run(a)
	assert.False(t, gotB.HasLEI, "B resumed from %q, A's checkpoint", gotB.LastEventID)
	assert.Equal(t, "2", gotA.LastEventID, "A resumes from its own checkpoint")
	files, err := filepath.Glob(filepath.Join(dir, "sse_*"))
	require.NoError(t, err)
	t.Logf("checkpoint files: %d", len(files))
}
