package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/input"
)

const (
	inputName = "sse_fleet"

	fieldBrokers          = "seed_brokers"
	fieldTopic            = "topic"
	fieldGroup            = "consumer_group"
	fieldClientID         = "client_id"
	fieldSessionTimeout   = "session_timeout"
	fieldRebalanceTimeout = "rebalance_timeout"
	fieldTLS              = "tls"

	// EndpointPath is where each instance lists its streams and the
	// group's assignment on the Benthos HTTP server.
	EndpointPath = "/sse_fleet"
)

// The spec is written out in full, like the other components' here (same
// shape: field-name constants, then one chain): Benthos spec boilerplate
// that reads best inline, so it is not shared on purpose.
func inputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Network").
		Summary("Runs the SSE streams listed in a compacted Kafka topic, shared among the instances of a fleet through a Kafka consumer group: each stream is read by one instance, and moves to another within seconds when that instance leaves or dies.").
		Description(`
Every instance runs the same config and joins `+"`consumer_group`"+` on `+"`topic`"+`. The topic is the stream list:
a record's key is the stream's name, its value JSON with `+"`url`"+` and optionally `+"`headers`"+`, `+"`method`"+`,
`+"`body`"+` and `+"`last_event_id`"+`; a new value replaces the stream (it reconnects from the same resume point), a
tombstone removes it. The group assigns the topic's partitions with the cooperative-sticky balancer, and each instance
runs the streams of its partitions as the changing set of one `+"`sse`"+` input, with every setting of the `+"`sse`"+`
input other than `+"`url`"+`, `+"`from`"+` and `+"`streams`"+`. A partition is read from its start at every
assignment: the topic is a table, not a queue.

Messages carry `+"`sse_stream`"+` (the name), `+"`sse_id`"+`, `+"`sse_event`"+`, with `+"`checkpoint.cache`"+` set
`+"`sse_checkpoint_key`"+` and `+"`sse_resume_point`"+`, and `+"`"+LeaseMeta+"`"+`, the ownership the event was read
under. A transactional `+"`kafka_franz`"+` output uses it to fence a stale instance: each transaction carries this
instance's group membership (KIP-447), which the group coordinator refuses once the group has moved on without it,
and events read under an ownership that has ended are acknowledged without being written, since their stream's new
owner reads them again from the committed resume point.

On revocation an instance stops the partition's streams and settles their in-flight events before it gives the
partition up. A new owner waits for the previous owner's open transactions on the offsets topic to end (at most
their transaction timeout) before it resumes each stream from its committed resume point. The input never ends on
its own: a stream that ended (204, `+"`stream_end: stop`"+`) stays ended until its record changes.

`+"`/ready`"+` is 200 while the instance is a member of the group and runs no stream (a standby) or has one of its
streams open. `+"`GET "+EndpointPath+"`"+` on the HTTP server lists this instance's streams (partition, ready state, lag, resume
point) and the group's assignment (which instance holds which partition).`).
		Fields(
			service.NewStringListField(fieldBrokers).
				Description("Kafka brokers to connect to, `host:port`. An entry may hold several, comma-separated.").
				Example([]string{"localhost:9092"}).
				Example([]string{"${KAFKA_BROKERS}"}),
			service.NewStringField(fieldTopic).
				Description("The stream list: a compacted topic whose record keys are stream names and values stream specs (JSON). Its partitions bound the number of instances that can share the work.").
				Example("sse-streams").
				Example("${STREAMS_TOPIC}"),
			service.NewStringField(fieldGroup).
				Description("The consumer group every instance of the fleet joins. Its committed offsets are fencing tokens, never read back.").
				Example("sse-fleet").
				Example("${FLEET_GROUP}"),
			service.NewStringField(fieldClientID).
				Description("This instance's client ID, shown in the group's assignment and at `"+EndpointPath+"`.").
				Example("sse-fleet-1").
				Example("${INSTANCE_ID}").
				Default("benthos-sse"),
			service.NewDurationField(fieldSessionTimeout).
				Description("How long the group waits for a silent instance (dead, paused) before it gives that instance's partitions to the others. With the output's `transaction_timeout` it bounds the fail-over time.").
				Example("10s").
				Default("10s").
				LintRule(benthossse.DurationRangeRule(fieldSessionTimeout, minTimeout, 0)).
				Advanced(),
			service.NewDurationField(fieldRebalanceTimeout).
				Description("How long a rebalance waits for instances to settle the streams they give up.").
				Example("30s").
				Default("30s").
				LintRule(benthossse.DurationRangeRule(fieldRebalanceTimeout, minTimeout, 0)).
				Advanced(),
			service.NewTLSToggledField(fieldTLS),
		).
		Fields(benthossse.SharedFields()...).
		Example("A fleet instance", "Every instance runs this config with its own INSTANCE_ID.", `
input:
  sse_fleet:
    seed_brokers: [ "${KAFKA_BROKERS:127.0.0.1:9092}" ]
    topic: ${STREAMS_TOPIC:sse-streams}
    consumer_group: ${FLEET_GROUP:sse-fleet}
    client_id: ${INSTANCE_ID:sse-fleet-1}
    max_in_flight: 1
    checkpoint: {cache: offsets, key: fleet}
`)
}

// minTimeout bounds session_timeout and rebalance_timeout from below: a
// group's members heartbeat several times per session timeout.
const minTimeout = time.Second

func init() {
	service.MustRegisterBatchInput(inputName, inputSpec(), newFleetInput)
}

// fleetInput is the sse_fleet input: a Streams input whose set of streams a
// Reader drives.
type fleetInput struct {
	streams *input.Streams
	cfg     Config
	res     *service.Resources
	log     *service.Logger

	gauge      *service.MetricGauge
	rebalances *service.MetricCounter

	// changed is closed and replaced at every change of the assignment or
	// of the running streams, under mu.
	changed chan struct{}

	mu         sync.Mutex
	reader     *Reader
	unregister func()
	stop       context.CancelFunc
	done       chan struct{}
}

func newFleetInput(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
	cfg := Config{Logger: res.Logger()}
	var err error
	if cfg.Brokers, err = brokers(conf); err != nil {
		return nil, err
	}
	for field, dst := range map[string]*string{fieldTopic: &cfg.Topic, fieldGroup: &cfg.Group, fieldClientID: &cfg.ClientID} {
		if *dst, err = conf.FieldString(field); err != nil {
			return nil, err
		}
		if *dst == "" {
			return nil, fmt.Errorf("field %q: must not be empty", field)
		}
	}
	for field, dst := range map[string]*time.Duration{fieldSessionTimeout: &cfg.SessionTimeout, fieldRebalanceTimeout: &cfg.RebalanceTimeout} {
		if *dst, err = conf.FieldDuration(field); err != nil {
			return nil, err
		}
		if *dst < minTimeout {
			return nil, fmt.Errorf("field %q: %v is below the minimum of %v", field, *dst, minTimeout)
		}
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return nil, err
	}
	if tlsOn {
		cfg.Opts = append(cfg.Opts, kgo.DialTLSConfig(tlsConf))
	}
	streams, err := input.NewStreams(conf, res, input.StreamsOptions{KeepRunning: true})
	if err != nil {
		return nil, err
	}
	f := &fleetInput{
		streams:    streams,
		cfg:        cfg,
		res:        res,
		log:        res.Logger(),
		gauge:      res.Metrics().NewGauge("sse_fleet_streams"),
		rebalances: res.Metrics().NewCounter("sse_fleet_rebalances"),
		changed:    make(chan struct{}),
	}
	f.cfg.OnChange = f.observe
	registerEndpoint(res, f.serveHTTP)
	return f, nil
}

// SplitBrokers returns the broker addresses of seed_brokers entries, each
// of which may list several separated by commas, without blanks: the one
// reading of the field for sse_fleet and the kafka components.
func SplitBrokers(entries []string) []string {
	var out []string
	for _, e := range entries {
		for _, b := range strings.Split(e, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
	}
	return out
}

// brokers splits comma-separated entries, as kafka_franz does.
func brokers(conf *service.ParsedConfig) ([]string, error) {
	list, err := conf.FieldStringList(fieldBrokers)
	if err != nil {
		return nil, err
	}
	out := SplitBrokers(list)
	if len(out) == 0 {
		return nil, fmt.Errorf("field %q: at least one broker is required", fieldBrokers)
	}
	return out, nil
}

// observe updates the metrics after every change of the assignment.
func (f *fleetInput) observe(running int64, rebalanced bool) {
	f.gauge.Set(running)
	if rebalanced {
		f.rebalances.Incr(1)
	}
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// state is the reader and the channel closed at its next change.
func (f *fleetInput) state() (*Reader, chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reader, f.changed
}

// Connect joins the group (once), then returns once this instance is ready:
// a member of the group that runs no stream (a standby), or whose streams
// input is connected (at least one stream open). Benthos' /ready follows
// it.
func (f *fleetInput) Connect(ctx context.Context) error {
	if err := f.join(); err != nil {
		return err
	}
	for {
		r, changed := f.state()
		if !r.Member() {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if r.Running() == 0 {
			return nil
		}
		// Connecting waits for a stream to open; a change of the
		// assignment (the streams revoked, say) asks again.
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-changed:
				cancel()
			case <-cctx.Done():
			}
		}()
		err := f.streams.Connect(cctx)
		again := cctx.Err() != nil && ctx.Err() == nil
		cancel()
		if !again {
			return err
		}
	}
}

// join creates the reader and joins the group, once.
func (f *fleetInput) join() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reader != nil {
		return nil
	}
	r, err := NewReader(f.cfg, runner{f.streams, f.cfg.RebalanceTimeout})
	if err != nil {
		return err
	}
	unregister, err := Register(r)
	if err != nil {
		r.Close()
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	f.reader, f.unregister, f.stop, f.done = r, unregister, cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		if err := r.Run(rctx); err != nil {
			f.log.Errorf("fleet: %v", err)
		}
	}()
	return nil
}

// ReadBatch hands out the streams' events, each tagged with its stream's
// lease. With no stream to run it waits for one, rather than report the
// input disconnected: a standby instance is healthy.
func (f *fleetInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	for {
		r, changed := f.state()
		if r != nil && r.Member() && r.Running() == 0 {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		b, ack, err := f.streams.ReadBatch(ctx)
		if err != nil {
			return b, ack, err
		}
		for _, m := range b {
			name, _ := m.MetaGet(benthossse.MetaStream)
			if r != nil {
				r.Tag(m, name)
			}
		}
		return b, ack, nil
	}
}

// Close leaves the group, which settles every stream, then closes the
// streams input.
func (f *fleetInput) Close(ctx context.Context) error {
	f.mu.Lock()
	r, stop, done, unregister := f.reader, f.stop, f.done, f.unregister
	f.mu.Unlock()
	if r != nil {
		r.Close()
		stop()
		select {
		case <-done:
		case <-ctx.Done():
		}
		unregister()
	}
	return f.streams.Close(ctx)
}

// runner runs the Reader's streams on a Streams input.
type runner struct {
	streams *input.Streams
	timeout time.Duration // bounds a replacement's settling
}

func (r runner) Put(name string, spec Spec) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	return r.streams.Put(ctx, streamConfig(name, spec))
}

func (r runner) PutAll(streams []Named) error {
	scs := make([]input.StreamConfig, len(streams))
	for i, st := range streams {
		scs[i] = streamConfig(st.Name, st.Spec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	return r.streams.PutAll(ctx, scs)
}

// streamConfig is the sse input's stream of a spec.
func streamConfig(name string, spec Spec) input.StreamConfig {
	sc := input.StreamConfig{Name: name, URL: spec.URL, Method: spec.Method, LastEventID: spec.LastEventID}
	if spec.Body != "" {
		sc.Body = []byte(spec.Body)
	}
	if len(spec.Headers) > 0 {
		sc.Headers = http.Header{}
		for k, v := range spec.Headers {
			sc.Headers.Set(k, v)
		}
	}
	return sc
}

func (r runner) Remove(ctx context.Context, name string) error {
	return r.streams.Remove(ctx, name)
}

func (r runner) RemoveAll(ctx context.Context, names []string) error {
	return r.streams.RemoveAll(ctx, names)
}

// endpointStream is one stream in the endpoint's listing.
type endpointStream struct {
	Name        string `json:"name"`
	Partition   int32  `json:"partition"`
	State       string `json:"state"`
	Lag         int    `json:"lag"`
	ResumePoint string `json:"resume_point,omitempty"`
	Error       string `json:"error,omitempty"`
}

type endpointMember struct {
	ClientID   string  `json:"client_id"`
	Host       string  `json:"host"`
	Partitions []int32 `json:"partitions"`
}

// serveHTTP lists this instance's streams and the group's assignment.
func (f *fleetInput) serveHTTP(w http.ResponseWriter, req *http.Request) {
	f.mu.Lock()
	r := f.reader
	f.mu.Unlock()
	out := struct {
		Instance string           `json:"instance"`
		Group    string           `json:"group"`
		Topic    string           `json:"topic"`
		Streams  []endpointStream `json:"streams"`
		Members  []endpointMember `json:"members,omitempty"`
		Error    string           `json:"error,omitempty"`
	}{Instance: f.cfg.ClientID, Group: f.cfg.Group, Topic: f.cfg.Topic, Streams: []endpointStream{}}
	if r != nil {
		parts := map[string]int32{}
		for _, s := range r.Streams() {
			parts[s.Name] = s.Partition
		}
		for _, st := range f.streams.List() {
			p, ok := parts[st.Name]
			if !ok {
				continue
			}
			e := endpointStream{Name: st.Name, Partition: p, State: st.State.String(), Lag: st.Lag}
			if st.HasResumePoint {
				e.ResumePoint = st.ResumePoint
			}
			if st.Err != nil {
				e.Error = st.Err.Error()
			}
			out.Streams = append(out.Streams, e)
		}
		ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
		groups, err := kadm.NewClient(r.Client()).DescribeGroups(ctx, f.cfg.Group)
		cancel()
		if err == nil {
			err = groups.Error()
		}
		if err != nil {
			out.Error = err.Error()
		} else {
			for _, m := range groups[f.cfg.Group].Members {
				em := endpointMember{ClientID: m.ClientID, Host: m.ClientHost, Partitions: []int32{}}
				if a, ok := m.Assigned.AsConsumer(); ok {
					for _, t := range a.Topics {
						if t.Topic == f.cfg.Topic {
							em.Partitions = append(em.Partitions, t.Partitions...)
						}
					}
				}
				out.Members = append(out.Members, em)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// registerEndpoint adds h to the Benthos HTTP server. The public API has no
// way to do it (v4.80.0), but the manager behind Resources has
// RegisterEndpoint, as Benthos' own components use; it is reached through
// XUnwrapper, whose Unwrap returns an internal type, hence reflection. If
// that ever stops working the input runs without its endpoint and logs why.
func registerEndpoint(res *service.Resources, h http.HandlerFunc) {
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%v", p)
			}
		}()
		m := reflect.ValueOf(res.XUnwrapper()).MethodByName("Unwrap")
		if !m.IsValid() {
			return errors.New("no Unwrap")
		}
		reg, ok := m.Call(nil)[0].Interface().(interface {
			RegisterEndpoint(path, desc string, h http.HandlerFunc)
		})
		if !ok {
			return errors.New("no RegisterEndpoint")
		}
		reg.RegisterEndpoint(EndpointPath, "Lists the streams this sse_fleet instance runs and the group's assignment.", h)
		return nil
	}()
	if err != nil {
		res.Logger().Warnf("fleet: the %s endpoint is not available: %v", EndpointPath, err)
	}
}
