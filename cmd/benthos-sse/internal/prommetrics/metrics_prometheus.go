// Package prommetrics registers the `prometheus` metrics exporter of the
// benthos-sse binary: every Benthos and sse_* series, with its labels, served
// at /metrics (and /stats) on the Benthos HTTP server, and optionally pushed
// to a Prometheus Pushgateway or written to a file at shutdown.
//
// Its field names follow Redpanda Connect's prometheus metrics, so a Connect
// config carries over. It lives under cmd/benthos-sse and is blank-imported
// only by the binary: the importable input package never depends on
// client_golang.
package prommetrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	fieldUseHistogramTiming = "use_histogram_timing"
	fieldHistogramBuckets   = "histogram_buckets"
	fieldSummaryObjectives  = "summary_quantiles_objectives"
	fieldObjectiveQuantile  = "quantile"
	fieldObjectiveError     = "error"
	fieldAddProcessMetrics  = "add_process_metrics"
	fieldAddGoMetrics       = "add_go_metrics"
	fieldPushURL            = "push_url"
	fieldPushInterval       = "push_interval"
	fieldPushJobName        = "push_job_name"
	fieldPushBasicAuth      = "push_basic_auth"
	fieldPushUsername       = "username"
	fieldPushPassword       = "password"
	fieldFileOutputPath     = "file_output_path"
)

// The spec is written out in full, like the other components' here (same
// shape: field-name constants, then one chain): Benthos spec boilerplate
// that reads best inline, so it is not shared on purpose.
func promMetricsSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Summary("Serve metrics for Prometheus to scrape at `/metrics` and `/stats` on the Benthos HTTP server (`http.address`), optionally pushing them to a Pushgateway too.").
		Description(`Every series Benthos and its components register is exported under its own name, with its labels (for components: `+"`label`"+` and `+"`path`"+`, plus their own, such as `+"`cause`"+` on `+"`sse_reconnects`"+`). Characters that Prometheus does not allow in a name become `+"`_`"+`.

Counters are Prometheus counters, gauges are gauges. Timings (series ending in `+"`_ns`"+`) are summaries of nanoseconds, or, with `+"`use_histogram_timing`"+`, histograms of seconds.

The fields are those of Redpanda Connect's prometheus metrics, so a Connect config carries over.`).
		Fields(
			service.NewBoolField(fieldUseHistogramTiming).
				Description("Export timings as histograms (observed in seconds, with `histogram_buckets`) instead of summaries (observed in nanoseconds, with `summary_quantiles_objectives`). Histograms can be aggregated across instances; summaries cannot.").
				Default(false).
				Example(true).
				Advanced(),
			service.NewFloatListField(fieldHistogramBuckets).
				Description("The upper bounds, in seconds, of the timing histograms' buckets, when `use_histogram_timing` is true. Empty means client_golang's DefBuckets (5ms to 10s).").
				Default([]any{}).
				Example([]any{0.001, 0.01, 0.1, 1.0}).
				Advanced(),
			service.NewObjectListField(fieldSummaryObjectives,
				service.NewFloatField(fieldObjectiveQuantile).
					Description("The quantile, between 0 and 1.").
					Example(0.99),
				service.NewFloatField(fieldObjectiveError).
					Description("The allowed absolute error of the quantile.").
					Example(0.001),
			).
				Description("The quantiles the timing summaries report, each with its allowed error, when `use_histogram_timing` is false.").
				Default([]any{
					map[string]any{fieldObjectiveQuantile: 0.5, fieldObjectiveError: 0.05},
					map[string]any{fieldObjectiveQuantile: 0.9, fieldObjectiveError: 0.01},
					map[string]any{fieldObjectiveQuantile: 0.99, fieldObjectiveError: 0.001},
				}).
				Example([]any{map[string]any{fieldObjectiveQuantile: 0.999, fieldObjectiveError: 0.0001}}).
				Advanced(),
			service.NewBoolField(fieldAddProcessMetrics).
				Description("Also export the process' metrics (`process_*`: CPU time, resident memory, open file descriptors).").
				Default(false).
				Example(true).
				Advanced(),
			service.NewBoolField(fieldAddGoMetrics).
				Description("Also export the Go runtime's metrics (`go_*`: goroutines, GC pauses, heap).").
				Default(false).
				Example(true).
				Advanced(),
			service.NewURLField(fieldPushURL).
				Description("A Prometheus Pushgateway to push the metrics to, every `push_interval` and once more at shutdown. Scraping `/metrics` keeps working. Unset or empty means no pushing.").
				Example("http://pushgateway.monitoring:9091").
				Optional().
				Advanced(),
			service.NewDurationField(fieldPushInterval).
				Description("How often to push to `push_url`. Unset or empty means push only once, at shutdown (for runs that end, such as a replay of a stream). A push that has no answer within `push_interval` (10s when it is unset) is abandoned and logged, so a stalled Pushgateway neither stops later pushes nor holds up shutdown.").
				Example("15s").
				Optional().
				Advanced(),
			service.NewStringField(fieldPushJobName).
				Description("The `job` label of the pushed metrics: the Pushgateway groups them by it.").
				Default("benthos_push").
				Example("sse_ingest").
				Advanced(),
			service.NewObjectField(fieldPushBasicAuth,
				service.NewStringField(fieldPushUsername).
					Description("The user name for the Pushgateway's basic authentication.").
					Default("").
					Example("pusher"),
				service.NewStringField(fieldPushPassword).
					Description("The password for the Pushgateway's basic authentication.").
					Default("").
					Example("${PUSHGATEWAY_PASSWORD}").
					Secret(),
			).
				Description("Basic authentication for `push_url`; used when `username` is set.").
				Advanced(),
			service.NewStringField(fieldFileOutputPath).
				Description("A file to write all the metrics to, in the Prometheus text format, at shutdown (for node_exporter's textfile collector, or to keep the final figures of a run). Empty means none.").
				Default("").
				Example("/var/lib/node_exporter/benthos-sse.prom").
				Advanced(),
		).
		Example("Scraped by Prometheus",
			"Serve every series at http://<host>:4195/metrics.",
			`
http:
  address: 0.0.0.0:4195
metrics:
  prometheus: {}
`).
		Example("Pushed to a Pushgateway",
			"Push every 15 seconds and at shutdown, and keep serving /metrics.",
			`
metrics:
  prometheus:
    push_url: http://pushgateway.monitoring:9091
    push_interval: 15s
    push_job_name: sse_ingest
`)
}

func init() {
	service.MustRegisterMetricsExporter("prometheus", promMetricsSpec(),
		func(conf *service.ParsedConfig, log *service.Logger) (service.MetricsExporter, error) {
			return newPromMetricsFromConfig(conf, log)
		})
}

// promMetrics implements service.MetricsExporter on a Prometheus registry of
// its own, so the process' default registry stays untouched.
type promMetrics struct {
	log          *service.Logger
	reg          *prometheus.Registry
	useHistogram bool
	buckets      []float64
	objectives   map[float64]float64
	filePath     string

	pusher    *push.Pusher
	stopPush  context.CancelFunc // ends the push loop and the push it is making
	pushDone  chan struct{}
	closeOnce sync.Once

	mu   sync.Mutex
	vecs map[string]deleter // by sanitised name: every vec, for DeleteSeriesPartialMatch
}

// deleter is what every *prometheus.XxxVec has.
type deleter interface {
	DeletePartialMatch(labels prometheus.Labels) int
}

// The field reads are written out one by one, as in the other components'
// config readers: Benthos boilerplate, kept inline on purpose so that each
// error points at its own field.
func newPromMetricsFromConfig(conf *service.ParsedConfig, log *service.Logger) (*promMetrics, error) {
	m := &promMetrics{log: log, reg: prometheus.NewRegistry(), vecs: map[string]deleter{}}
	var err error
	if m.useHistogram, err = conf.FieldBool(fieldUseHistogramTiming); err != nil {
		return nil, err
	}
	if m.buckets, err = conf.FieldFloatList(fieldHistogramBuckets); err != nil {
		return nil, err
	}
	if len(m.buckets) == 0 {
		m.buckets = prometheus.DefBuckets
	}
	objs, err := conf.FieldObjectList(fieldSummaryObjectives)
	if err != nil {
		return nil, err
	}
	m.objectives = make(map[float64]float64, len(objs))
	for i, o := range objs {
		q, err := o.FieldFloat(fieldObjectiveQuantile)
		if err != nil {
			return nil, err
		}
		e, err := o.FieldFloat(fieldObjectiveError)
		if err != nil {
			return nil, err
		}
		if q < 0 || q > 1 {
			return nil, fmt.Errorf("field %q: entry %d: quantile %v is not between 0 and 1", fieldSummaryObjectives, i, q)
		}
		m.objectives[q] = e
	}
	if m.filePath, err = conf.FieldString(fieldFileOutputPath); err != nil {
		return nil, err
	}

	if add, err := conf.FieldBool(fieldAddProcessMetrics); err != nil {
		return nil, err
	} else if add {
		m.reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if add, err := conf.FieldBool(fieldAddGoMetrics); err != nil {
		return nil, err
	} else if add {
		m.reg.MustRegister(collectors.NewGoCollector())
	}

	// As in Connect, an empty push_url or push_interval is the same as none.
	if u, _ := conf.FieldString(fieldPushURL); u != "" {
		if err := m.startPush(conf); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *promMetrics) startPush(conf *service.ParsedConfig) error {
	pushURL, err := conf.FieldString(fieldPushURL)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(pushURL, "http://") && !strings.HasPrefix(pushURL, "https://") {
		return fmt.Errorf("field %q: %q is not an http:// or https:// URL", fieldPushURL, pushURL)
	}
	job, err := conf.FieldString(fieldPushJobName)
	if err != nil {
		return err
	}
	if job == "" {
		return fmt.Errorf("field %q: must not be empty when %s is set", fieldPushJobName, fieldPushURL)
	}
	var interval time.Duration
	if v, _ := conf.FieldString(fieldPushInterval); v != "" {
		if interval, err = conf.FieldDuration(fieldPushInterval); err != nil {
			return err
		}
		if interval <= 0 {
			return fmt.Errorf("field %q: %v is not positive", fieldPushInterval, interval)
		}
	}
	user, err := conf.FieldString(fieldPushBasicAuth, fieldPushUsername)
	if err != nil {
		return err
	}
	pass, err := conf.FieldString(fieldPushBasicAuth, fieldPushPassword)
	if err != nil {
		return err
	}

	m.pusher = push.New(pushURL, job).Gatherer(m.reg).Client(&http.Client{Timeout: pushTimeout(interval)})
	if user != "" {
		m.pusher = m.pusher.BasicAuth(user, pass)
	}
	ctx, stop := context.WithCancel(context.Background())
	m.stopPush = stop
	m.pushDone = make(chan struct{})
	go m.pushLoop(ctx, interval)
	return nil
}

// defaultPushTimeout bounds a push when push_interval is unset: the one
// push, at shutdown.
const defaultPushTimeout = 10 * time.Second

// pushTimeout bounds one push: a push that outlives its interval would only
// delay the next, and without a bound a Pushgateway that accepts the
// connection and never answers would stall the loop, and Close, for ever.
func pushTimeout(interval time.Duration) time.Duration {
	if interval == 0 {
		return defaultPushTimeout
	}
	return interval
}

// pushLoop pushes every interval (never, if zero) until ctx ends, which also
// abandons a push under way; Close then pushes once more.
func (m *promMetrics) pushLoop(ctx context.Context, interval time.Duration) {
	defer close(m.pushDone)
	if interval == 0 {
		<-ctx.Done()
		return
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			m.push(ctx)
		case <-ctx.Done():
			return
		}
	}
}

func (m *promMetrics) push(ctx context.Context) {
	if err := m.pusher.PushContext(ctx); err != nil {
		m.log.Errorf("Failed to push metrics to the Pushgateway: %v", err)
	}
}

// HandlerFunc serves the registry in the Prometheus exposition format; Benthos
// mounts it at /metrics and /stats on its HTTP server.
func (m *promMetrics) HandlerFunc() http.HandlerFunc {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: promErrorLog{m.log}}).ServeHTTP
}

// register registers a new vec under name, or returns the one already there:
// Benthos asks for the same series once per component that uses it. A clash
// (the same name with another type or other labels) is logged, and nil
// returned so the caller exports nothing for it.
func register[V prometheus.Collector](m *promMetrics, name string, vec V) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.reg.Register(vec); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(V); ok {
				return existing, true
			}
		}
		m.log.Warnf("Metric %s not exported: %v", name, err)
		var zero V
		return zero, false
	}
	if d, ok := any(vec).(deleter); ok {
		m.vecs[name] = d
	}
	return vec, true
}

// labelled is what every *prometheus.XxxVec has: a series per label values.
type labelled[S any] interface {
	prometheus.Collector
	WithLabelValues(labelValues ...string) S
}

// series registers vec under name and returns the constructor of its
// series, each wrapped for Benthos by wrap; when vec could not be
// registered, every series is a noop.
func series[S, E any](m *promMetrics, name string, vec labelled[S], wrap func(S) E) func(labelValues ...string) E {
	vec, ok := register(m, name, vec)
	return func(labelValues ...string) E {
		if !ok {
			return any(noop{}).(E)
		}
		return wrap(vec.WithLabelValues(labelValues...))
	}
}

// NewCounterCtor exports name as a counter.
func (m *promMetrics) NewCounterCtor(name string, labelKeys ...string) service.MetricsExporterCounterCtor {
	name, labelKeys = sanitiseName(name), sanitiseLabels(labelKeys)
	return series(m, name, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: name, Help: "Benthos counter " + name,
	}, labelKeys), func(c prometheus.Counter) service.MetricsExporterCounter { return promCounter{c} })
}

// NewGaugeCtor exports name as a gauge.
func (m *promMetrics) NewGaugeCtor(name string, labelKeys ...string) service.MetricsExporterGaugeCtor {
	name, labelKeys = sanitiseName(name), sanitiseLabels(labelKeys)
	return series(m, name, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: name, Help: "Benthos gauge " + name,
	}, labelKeys), func(g prometheus.Gauge) service.MetricsExporterGauge { return promGauge{g} })
}

// NewTimerCtor exports name as a summary of nanoseconds, or a histogram of
// seconds with use_histogram_timing.
func (m *promMetrics) NewTimerCtor(name string, labelKeys ...string) service.MetricsExporterTimerCtor {
	name, labelKeys = sanitiseName(name), sanitiseLabels(labelKeys)
	if m.useHistogram {
		return series(m, name, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name, Help: "Benthos timing " + name + ", in seconds", Buckets: m.buckets,
		}, labelKeys), func(o prometheus.Observer) service.MetricsExporterTimer { return promTimer{o: o, scale: 1e-9} })
	}
	return series(m, name, prometheus.NewSummaryVec(prometheus.SummaryOpts{
		Name: name, Help: "Benthos timing " + name + ", in nanoseconds", Objectives: m.objectives,
	}, labelKeys), func(o prometheus.Observer) service.MetricsExporterTimer { return promTimer{o: o, scale: 1} })
}

// DeleteSeriesPartialMatch drops every series whose labels include labels:
// Benthos calls it when a stream or component goes away.
func (m *promMetrics) DeleteSeriesPartialMatch(labels map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.vecs {
		v.DeletePartialMatch(labels)
	}
}

// Close stops pushing after a final push, and writes file_output_path. It
// waits for the push loop only as long as ctx allows: if ctx ends first, it
// makes no final push, writes the file all the same, and returns ctx's error.
func (m *promMetrics) Close(ctx context.Context) error {
	var err error
	m.closeOnce.Do(func() {
		if m.pusher != nil {
			m.stopPush()
			select {
			case <-m.pushDone:
				m.push(ctx)
			case <-ctx.Done():
				err = fmt.Errorf("stopping the Pushgateway pushes: %w", ctx.Err())
			}
		}
		if m.filePath != "" {
			if werr := prometheus.WriteToTextfile(m.filePath, m.reg); werr != nil {
				err = errors.Join(err, fmt.Errorf("field %q: %w", fieldFileOutputPath, werr))
			}
		}
	})
	return err
}

type promCounter struct{ c prometheus.Counter }

func (p promCounter) Incr(n int64)          { p.c.Add(float64(n)) }
func (p promCounter) IncrFloat64(n float64) { p.c.Add(n) }

type promGauge struct{ g prometheus.Gauge }

func (p promGauge) Set(v int64)          { p.g.Set(float64(v)) }
func (p promGauge) SetFloat64(v float64) { p.g.Set(v) }

type promTimer struct {
	o     prometheus.Observer
	scale float64
}

func (p promTimer) Timing(ns int64) { p.o.Observe(float64(ns) * p.scale) }

// noop stands in for a series that could not be registered.
type noop struct{}

func (noop) Incr(int64)   {}
func (noop) Set(int64)    {}
func (noop) Timing(int64) {}

// sanitiseName maps a Benthos metric name to a valid Prometheus one
// ([a-zA-Z_:][a-zA-Z0-9_:]*), replacing other characters with '_'.
func sanitiseName(name string) string {
	return sanitise(name, true)
}

// sanitiseLabels does the same for label names, which may not contain ':'.
func sanitiseLabels(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = sanitise(k, false)
	}
	return out
}

func sanitise(s string, colonOK bool) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(i > 0 && c >= '0' && c <= '9') || (colonOK && c == ':')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// promErrorLog sends promhttp's errors to the Benthos logger.
type promErrorLog struct{ log *service.Logger }

func (l promErrorLog) Println(v ...any) { l.log.Errorf("Serving metrics: %s", fmt.Sprint(v...)) }
