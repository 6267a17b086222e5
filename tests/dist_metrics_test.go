package tests

// The binary's `prometheus` metrics exporter, scraped at /metrics during a
// run.

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// promSample is one line of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// parsePromText parses the sample lines of the Prometheus text exposition
// format (comments skipped). Label values in these tests hold no escaped
// quotes or commas.
func parsePromText(t *testing.T, body string) []promSample {
	t.Helper()
	var out []promSample
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := promSample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			require.Greater(t, j, i, "line %q", line)
			s.name, rest = line[:i], strings.TrimSpace(line[j+1:])
			for _, kv := range strings.Split(line[i+1:j], ",") {
				if kv == "" {
					continue
				}
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "label %q in line %q", kv, line)
				s.labels[k] = strings.Trim(v, `"`)
			}
		} else {
			var ok bool
			s.name, rest, ok = strings.Cut(line, " ")
			require.True(t, ok, "line %q", line)
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		require.NoError(t, err, "value in line %q", line)
		s.value = v
		out = append(out, s)
	}
	require.NoError(t, sc.Err())
	return out
}

// find returns the samples named name.
func find(samples []promSample, name string) []promSample {
	var out []promSample
	for _, s := range samples {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

func labelKeys(l map[string]string) []string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestDist_PrometheusScrape runs the binary with `metrics: prometheus`
// against a local SSE server whose first connection ends after ten events
// (so the input reconnects, with cause "eof") and whose second stays open,
// and scrapes /metrics on the Benthos HTTP server: the sse_* series and
// Benthos' own are there with their label sets and the counts of the run.
func TestDist_PrometheusScrape(t *testing.T) {
	release := make(chan struct{})
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		// Not resumeAfter: no require off the test goroutine. A bad id
		// restarts at 1, which the counts below would show.
		last, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
		from := last + 1
		if !w.Events("", from, from+9) {
			return
		}
		if n == 1 {
			return // end the response: the client reconnects (cause eof)
		}
		select {
		case <-release:
		case <-r.Context().Done():
		case <-w.stop:
		}
	})
	t.Cleanup(func() { close(release) })
	addr := freePort(t)
	dir := t.TempDir()
	config := writeConfigFile(t, dir, "metrics.yaml", fmt.Sprintf(`
http: {address: %q}
logger: {level: warn}
metrics:
  prometheus: {}
input:
  label: events_in
  sse:
    url: %q
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
output:
  drop: {}
`, addr, srv.URL()+"/events"))
	p := startBinaryIn(t, dir, config)

	var samples []promSample
	deadline := time.Now().Add(waitLimit)
	for {
		require.False(t, p.Exited(), "benthos-sse exited:\n%s", p.stderr.String())
		if body, ok := get(t, "http://"+addr+"/metrics"); ok {
			samples = parsePromText(t, body)
			// The input counts an event when it reads it, before the
			// output has sent it: wait for both counts.
			got := find(samples, "sse_events_received")
			sent := find(samples, "output_sent")
			if len(got) == 1 && got[0].value >= 20 && len(sent) == 1 && sent[0].value >= 20 && len(find(samples, "sse_reconnects")) > 0 {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "no sse_events_received and output_sent >= 20 at /metrics within %v:\n%s", waitLimit, p.stderr.String())
		time.Sleep(50 * time.Millisecond) // polling the scrape endpoint
	}

	in := map[string]string{"label": "events_in", "path": "root.input"}
	tests := []struct {
		name   string
		labels map[string]string
		check  func(v float64) bool
		want   string
	}{
		{"sse_events_received", in, func(v float64) bool { return v >= 20 }, ">= 20"},
		{"sse_bytes_received", in, func(v float64) bool { return v > 0 }, "> 0"},
		{"sse_reconnects", map[string]string{"cause": "eof", "label": "events_in", "path": "root.input"}, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"sse_ready_state", in, func(v float64) bool { return v == 1 }, "1 (OPEN)"},
		{"input_received", in, func(v float64) bool { return v >= 20 }, ">= 20"},
		{"output_sent", map[string]string{"label": "", "path": "root.output"}, func(v float64) bool { return v >= 20 }, ">= 20"},
	}
	for _, tt := range tests {
		got := find(samples, tt.name)
		if !assert.Len(t, got, 1, "one %s series", tt.name) {
			continue
		}
		assert.Equal(t, tt.labels, got[0].labels, "%s labels", tt.name)
		assert.True(t, tt.check(got[0].value), "%s = %v, want %s", tt.name, got[0].value, tt.want)
	}
	// Every sse_* series carries the component's label and path (and only
	// sse_reconnects a cause).
	var sseNames []string
	for _, s := range samples {
		if !strings.HasPrefix(s.name, "sse_") {
			continue
		}
		sseNames = append(sseNames, s.name)
		want := []string{"label", "path"}
		if s.name == "sse_reconnects" {
			want = []string{"cause", "label", "path"}
		}
		assert.Equal(t, want, labelKeys(s.labels), "labels of %s", s.name)
		assert.Equal(t, "root.input", s.labels["path"], "path of %s", s.name)
	}
	t.Logf("sse series at /metrics: %v", slices.Compact(sseNames))
	// Benthos' timings are summaries.
	assert.NotEmpty(t, find(samples, "input_latency_ns_count"), "Benthos' input_latency_ns summary")

	code := p.Signal(syscall.SIGTERM)
	assert.Equal(t, 0, code, "exit code after SIGTERM:\n%s", p.stderr.String())
}

// get fetches url; ok is false when the server is not up yet.
func get(t *testing.T, url string) (string, bool) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, b)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/plain", "the Prometheus text format")
	return string(b), true
}
