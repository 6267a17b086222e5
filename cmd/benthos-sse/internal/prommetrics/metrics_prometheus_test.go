package prommetrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestExporter(t *testing.T, yaml string) *promMetrics {
	t.Helper()
	conf, err := promMetricsSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	m, err := newPromMetricsFromConfig(conf, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// scrape serves one /metrics request from the exporter's handler.
func scrape(t *testing.T, m *promMetrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.HandlerFunc()(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

func TestPromMetrics_Series(t *testing.T) {
	m := newTestExporter(t, "")
	events := m.NewCounterCtor("sse_events_received", "label", "path")
	events("", "root.input").Incr(3)
	// Benthos asks for a series again for each component using it: both
	// constructors feed the same series.
	m.NewCounterCtor("sse_events_received", "label", "path")("", "root.input").Incr(2)
	m.NewCounterCtor("sse_reconnects", "cause", "label", "path")("eof", "in", "root.input").Incr(1)
	m.NewCounterCtor("sse_bytes_received")().(interface{ IncrFloat64(float64) }).IncrFloat64(1.5)
	g := m.NewGaugeCtor("sse_ready_state", "label", "path")("", "root.input")
	g.Set(1)
	m.NewGaugeCtor("sse_last_byte_age_seconds")().(interface{ SetFloat64(float64) }).SetFloat64(0.25)
	m.NewGaugeCtor("dotted.name-with:colon", "a.b")("x").Set(-4)
	// A clash (a counter name reused as a gauge) is not exported twice and
	// does not panic.
	m.NewGaugeCtor("sse_events_received", "label", "path")("", "root.input").Set(99)

	body := scrape(t, m)
	for _, want := range []string{
		"# TYPE sse_events_received counter",
		`sse_events_received{label="",path="root.input"} 5`,
		`sse_reconnects{cause="eof",label="in",path="root.input"} 1`,
		"sse_bytes_received 1.5",
		"# TYPE sse_ready_state gauge",
		`sse_ready_state{label="",path="root.input"} 1`,
		"sse_last_byte_age_seconds 0.25",
		`dotted_name_with:colon{a_b="x"} -4`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, " 99\n", "the clashing gauge is not exported")
	assert.NotContains(t, body, "go_goroutines", "no Go metrics unless add_go_metrics")
	assert.NotContains(t, body, "process_cpu_seconds_total", "no process metrics unless add_process_metrics")

	m.DeleteSeriesPartialMatch(map[string]string{"path": "root.input"})
	body = scrape(t, m)
	assert.NotContains(t, body, `path="root.input"`, "series deleted by DeleteSeriesPartialMatch")
	assert.Contains(t, body, "sse_bytes_received 1.5", "series without the label are kept")
}

func TestPromMetrics_Timings(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "summary of nanoseconds by default",
			want: []string{
				"# TYPE input_latency_ns summary",
				`input_latency_ns{path="root.input",quantile="0.5"} 2e+09`,
				`input_latency_ns{path="root.input",quantile="0.9"} 2e+09`,
				`input_latency_ns{path="root.input",quantile="0.99"} 2e+09`,
				`input_latency_ns_sum{path="root.input"} 2e+09`,
				`input_latency_ns_count{path="root.input"} 1`,
			},
		},
		{
			name: "summary objectives",
			yaml: "summary_quantiles_objectives: [{quantile: 0.999, error: 0.0001}]",
			want: []string{`input_latency_ns{path="root.input",quantile="0.999"} 2e+09`},
		},
		{
			name: "histogram of seconds",
			yaml: "use_histogram_timing: true\nhistogram_buckets: [1, 5]",
			want: []string{
				"# TYPE input_latency_ns histogram",
				`input_latency_ns_bucket{path="root.input",le="1"} 0`,
				`input_latency_ns_bucket{path="root.input",le="5"} 1`,
				`input_latency_ns_sum{path="root.input"} 2`,
			},
		},
		{
			name: "histogram default buckets",
			yaml: "use_histogram_timing: true",
			want: []string{`input_latency_ns_bucket{path="root.input",le="0.005"} 0`, `input_latency_ns_bucket{path="root.input",le="2.5"} 1`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestExporter(t, tt.yaml)
			m.NewTimerCtor("input_latency_ns", "path")("root.input").Timing(int64(2 * time.Second))
			body := scrape(t, m)
			for _, w := range tt.want {
				assert.Contains(t, body, w)
			}
		})
	}
}

func TestPromMetrics_RuntimeCollectors(t *testing.T) {
	m := newTestExporter(t, "add_go_metrics: true\nadd_process_metrics: true")
	body := scrape(t, m)
	assert.Contains(t, body, "go_goroutines ")
	assert.Contains(t, body, "process_resident_memory_bytes ")
}

// pushGateway records the pushes it receives, like a Pushgateway does.
type pushGateway struct {
	*httptest.Server
	pushes chan pushed
}

type pushed struct {
	method, path, auth, body string
}

func newPushGateway(t *testing.T) *pushGateway {
	g := &pushGateway{pushes: make(chan pushed, 100)}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		g.pushes <- pushed{method: r.Method, path: r.URL.Path, auth: user + ":" + pass, body: string(b)}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *pushGateway) next(t *testing.T) pushed {
	t.Helper()
	select {
	case p := <-g.pushes:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no push within 10s")
		return pushed{}
	}
}

func TestPromMetrics_Push(t *testing.T) {
	t.Run("every push_interval and at close", func(t *testing.T) {
		g := newPushGateway(t)
		m := newTestExporter(t, "push_url: "+g.URL+`
push_interval: 20ms
push_job_name: sse_ingest
push_basic_auth: {username: pusher, password: secret}
`)
		c := m.NewCounterCtor("sse_events_received", "label", "path")("", "root.input")
		c.Incr(7)
		p := g.next(t)
		assert.Equal(t, http.MethodPut, p.method)
		assert.Equal(t, "/metrics/job/sse_ingest", p.path)
		assert.Equal(t, "pusher:secret", p.auth)
		assert.Contains(t, p.body, "sse_events_received")
		g.next(t) // pushes repeat

		c.Incr(1)
		require.NoError(t, m.Close(context.Background()))
		// Drain to the final push, made by Close after the loop stopped.
		var last pushed
		for drained := false; !drained; {
			select {
			case last = <-g.pushes:
			default:
				drained = true
			}
		}
		require.NotEmpty(t, last.body, "Close pushed")
		assert.Equal(t, "/metrics/job/sse_ingest", last.path)
		require.NoError(t, m.Close(context.Background()), "Close is idempotent")
		select {
		case p := <-g.pushes:
			t.Fatalf("push after Close: %+v", p)
		case <-time.After(100 * time.Millisecond):
		}
	})

	t.Run("only at close without push_interval", func(t *testing.T) {
		g := newPushGateway(t)
		m := newTestExporter(t, "push_url: "+g.URL)
		m.NewCounterCtor("sse_events_received")().Incr(1)
		select {
		case p := <-g.pushes:
			t.Fatalf("pushed before Close: %+v", p)
		case <-time.After(100 * time.Millisecond):
		}
		require.NoError(t, m.Close(context.Background()))
		p := g.next(t)
		assert.Equal(t, "/metrics/job/benthos_push", p.path, "default push_job_name")
		assert.Equal(t, ":", p.auth, "no basic auth without a username")
	})
}

func TestPromMetrics_FileOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "final.prom")
	m := newTestExporter(t, "file_output_path: "+path)
	m.NewCounterCtor("sse_events_received", "path")("root.input").Incr(42)
	_, err := os.Stat(path)
	require.True(t, os.IsNotExist(err), "nothing written before Close")
	require.NoError(t, m.Close(context.Background()))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), `sse_events_received{path="root.input"} 42`)
}

func TestPromMetrics_ConfigErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{name: "push_interval zero", yaml: "push_url: http://127.0.0.1:1\npush_interval: 0s", want: `field "push_interval": 0s is not positive`},
		{name: "push_interval not a duration", yaml: "push_url: http://127.0.0.1:1\npush_interval: soon", want: "soon"},
		{name: "push_url scheme", yaml: "push_url: ftp://127.0.0.1:1", want: `field "push_url"`},
		{name: "empty job", yaml: "push_url: http://127.0.0.1:1\npush_job_name: ''", want: `field "push_job_name"`},
		{name: "quantile out of range", yaml: "summary_quantiles_objectives: [{quantile: 1.5, error: 0.1}]", want: "quantile 1.5 is not between 0 and 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := promMetricsSpec().ParseYAML(tt.yaml, nil)
			require.NoError(t, err)
			_, err = newPromMetricsFromConfig(conf, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestSanitise(t *testing.T) {
	tests := []struct{ in, name, label string }{
		{in: "sse_events_received", name: "sse_events_received", label: "sse_events_received"},
		{in: "a.b-c", name: "a_b_c", label: "a_b_c"},
		{in: "9lives", name: "_lives", label: "_lives"},
		{in: "ns:x", name: "ns:x", label: "ns_x"},
		{in: "", name: "_", label: "_"},
		{in: "é", name: "__", label: "__"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.name, sanitiseName(tt.in))
			assert.Equal(t, []string{tt.label}, sanitiseLabels([]string{tt.in}))
		})
	}
}

// TestPromMetrics_ConnectConfig builds the full (advanced) config from
// Redpanda Connect's prometheus documentation, empty strings included: a
// Connect config carries over, and an empty push_url pushes nothing.
func TestPromMetrics_ConnectConfig(t *testing.T) {
	m := newTestExporter(t, `
use_histogram_timing: false
histogram_buckets: []
summary_quantiles_objectives:
  - error: 0.05
    quantile: 0.5
  - error: 0.01
    quantile: 0.9
  - error: 0.001
    quantile: 0.99
add_process_metrics: false
add_go_metrics: false
push_url: ""
push_interval: ""
push_job_name: benthos_push
push_basic_auth:
  username: ""
  password: ""
file_output_path: ""
`)
	assert.Nil(t, m.pusher, "no pushing with an empty push_url")
	m.NewCounterCtor("sse_events_received")().Incr(1)
	assert.Contains(t, scrape(t, m), "sse_events_received 1")
}

// TestPromMetrics_PushTimeout: a Pushgateway that accepts a push and never
// answers does not stall the push loop: each push is abandoned after
// push_interval, and the next one is made.
func TestPromMetrics_PushTimeout(t *testing.T) {
	arrived := make(chan struct{}, 100)
	g := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // never answers; ends when the client gives up
	}))
	t.Cleanup(g.Close)
	newTestExporter(t, "push_url: "+g.URL+"\npush_interval: 50ms")
	for i := range 2 {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("push %d did not arrive within 10s: the loop is stuck on an unanswered push", i+1)
		}
	}
	assert.Equal(t, 50*time.Millisecond, pushTimeout(50*time.Millisecond))
	assert.Equal(t, defaultPushTimeout, pushTimeout(0), "the one push at shutdown is bounded too")
}

// blockingCollector blocks every Gather until release is closed: a push
// stuck where no context reaches it.
type blockingCollector struct {
	entered chan struct{}
	release chan struct{}
}

func (c *blockingCollector) Describe(chan<- *prometheus.Desc) {}

func (c *blockingCollector) Collect(chan<- prometheus.Metric) {
	select {
	case c.entered <- struct{}{}:
	default:
	}
	<-c.release
}

// TestPromMetrics_CloseHonoursCtx: Close waits for the push loop only until
// its ctx ends, then returns the ctx's error.
func TestPromMetrics_CloseHonoursCtx(t *testing.T) {
	g := newPushGateway(t)
	conf, err := promMetricsSpec().ParseYAML("push_url: "+g.URL+"\npush_interval: 10ms", nil)
	require.NoError(t, err)
	m, err := newPromMetricsFromConfig(conf, nil)
	require.NoError(t, err)
	c := &blockingCollector{entered: make(chan struct{}, 1), release: make(chan struct{})}
	m.reg.MustRegister(c)
	defer func() {
		close(c.release)
		<-m.pushDone // the loop ends once its push is released
	}()
	select {
	case <-c.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the push loop did not start a push within 10s")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- m.Close(ctx) }()
	select {
	case err := <-closed:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(10 * time.Second):
		t.Fatal("Close ignored its ctx: still waiting on the push loop after 10s")
	}
}
