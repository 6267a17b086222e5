package tests

// A fleet through the binary: several benthos-sse processes run
// resources/fleet.yaml against tests/kafkabroker and an SSE server with
// hundreds of streams and Last-Event-ID replay, while a read_committed
// consumer groups the records by sse_stream.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fleetServer serves streams at /s/<name>: events with ids 1, 2, ... and
// data "<name>:<id>", one per interval, resuming after Last-Event-ID, up to
// the limit the test sets. It counts each stream's open connections.
type fleetServer struct {
	*sseServer
	interval time.Duration

	mu        sync.Mutex
	limit     int
	fast      bool          // past the pace: send up to limit at once
	changed   chan struct{} // closed and replaced when limit changes
	open      map[string]int
	since     map[string]time.Time // when a stream's second connection opened
	overlap   time.Duration        // the longest time a stream had two connections
	overlapOf string
}

func newFleetServer(t *testing.T, interval time.Duration) *fleetServer {
	s := &fleetServer{interval: interval, limit: 1 << 30, changed: make(chan struct{}),
		open: map[string]int{}, since: map[string]time.Time{}}
	s.sseServer = newSSEServer(t, s.serve)
	return s
}

func (s *fleetServer) serve(w *sseWriter, r *http.Request, _ int) {
	if strings.HasPrefix(r.URL.Path, "/end/") {
		w.w.WriteHeader(http.StatusNoContent) // the stream is over
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/s/")
	if !ok {
		w.Fail("unexpected path %q", r.URL.Path)
	}
	s.enter(name)
	defer s.exit(name)
	w.Open()
	pace := time.NewTicker(s.interval)
	defer pace.Stop()
	for id := w.ResumeAfter() + 1; ; {
		s.mu.Lock()
		limit, fast, changed := s.limit, s.fast, s.changed
		s.mu.Unlock()
		if id > limit {
			select {
			case <-changed:
				continue
			case <-r.Context().Done():
				return
			case <-w.stop:
				return
			}
		}
		if !w.Event(id, name+":"+strconv.Itoa(id)) {
			return
		}
		id++
		if fast {
			continue
		}
		select {
		case <-pace.C:
		case <-r.Context().Done():
			return
		case <-w.stop:
			return
		}
	}
}

func (s *fleetServer) enter(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open[name]++
	if s.open[name] == 2 {
		s.since[name] = time.Now()
	}
}

func (s *fleetServer) exit(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[name] == 2 {
		if d := time.Since(s.since[name]); d > s.overlap {
			s.overlap, s.overlapOf = d, name
		}
	}
	s.open[name]--
}

// openConns is the number of open connections of a stream.
func (s *fleetServer) openConns(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[name]
}

// longestOverlap returns and resets the longest time a stream had two
// connections open at once, counting those still open.
func (s *fleetServer) longestOverlap() (time.Duration, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, of := s.overlap, s.overlapOf
	for name, n := range s.open {
		if n >= 2 && time.Since(s.since[name]) > d {
			d, of = time.Since(s.since[name]), name
		}
	}
	s.overlap, s.overlapOf = 0, ""
	return d, of
}

// finish makes every stream send up to limit at once, and no further.
func (s *fleetServer) finish(limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit, s.fast = limit, true
	close(s.changed)
	s.changed = make(chan struct{})
}

// fleetSink reads the output topic as a read_committed consumer, grouping
// the events by sse_stream in offset order.
type fleetSink struct {
	t *testing.T

	mu       sync.Mutex
	ids      map[string][]int
	lastAt   map[string]time.Time
	problems []string
}

func startFleetSink(t *testing.T, brokers, topic string) *fleetSink {
	s := &fleetSink{t: t, ids: map[string][]int{}, lastAt: map[string]time.Time{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(s.add)
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return s
}

func (s *fleetSink) add(r *kgo.Record) {
	h := map[string]string{}
	for _, kv := range r.Headers {
		h[kv.Key] = string(kv.Value)
	}
	name, idStr, _ := strings.Cut(string(r.Value), ":")
	id, err := strconv.Atoi(idStr)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		s.problems = append(s.problems, fmt.Sprintf("record %s/%d@%d: value %q", r.Topic, r.Partition, r.Offset, r.Value))
	case string(r.Key) != name || h["sse_stream"] != name || h["sse_id"] != idStr || h["sse_event"] != "message":
		s.problems = append(s.problems, fmt.Sprintf("record %q: key %q, headers %v", r.Value, r.Key, h))
	}
	s.ids[name] = append(s.ids[name], id)
	s.lastAt[name] = time.Now()
}

// count is the number of events of a stream; last its newest id.
func (s *fleetSink) count(name string) (n, last int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.ids[name]
	if len(ids) == 0 {
		return 0, 0
	}
	return len(ids), ids[len(ids)-1]
}

// check verifies each stream's events: ids 1, 2, ... each once, in order,
// and exactly want of them when want > 0.
func (s *fleetSink) check(t *testing.T, names []string, want int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Empty(t, s.problems)
	lost, dup := 0, 0
	for _, name := range names {
		ids := s.ids[name]
		seen := map[int]bool{}
		for _, id := range ids {
			if seen[id] {
				dup++
			}
			seen[id] = true
		}
		top := len(seen)
		if want > 0 {
			top = want
		}
		for id := 1; id <= top; id++ {
			if !seen[id] {
				lost++
			}
		}
		if want > 0 && len(ids) > 0 {
			assert.Equal(t, want, ids[len(ids)-1], "stream %s ends at the last event", name)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] != ids[i-1]+1 {
				t.Errorf("stream %s: event %d follows event %d", name, ids[i], ids[i-1])
				break
			}
		}
	}
	assert.Zero(t, lost, "lost events")
	assert.Zero(t, dup, "duplicated events")
}

// fleetInstance is one benthos-sse running resources/fleet.yaml.
type fleetInstance struct {
	id   string
	http string
	proc *binProc
}

// fleetEnv is a broker with the fleet's topics, created before any
// instance starts, a fleetServer, and an editor of the stream list.
type fleetEnv struct {
	t       *testing.T
	brokers string
	srv     *fleetServer
	editor  *kgo.Client
}

func newFleetEnv(t *testing.T, streamPartitions int32, interval time.Duration) *fleetEnv {
	t.Helper()
	broker := startMemoryKafkaBroker(t, "")
	env := &fleetEnv{t: t, brokers: broker.addr, srv: newFleetServer(t, interval)}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker.addr), kgo.DefaultProduceTopic(fleetStreamsTopic))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	env.editor = cl
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	compact := map[string]*string{"cleanup.policy": new("compact")}
	for topic, parts := range map[string]int32{fleetStreamsTopic: streamPartitions, fleetEventsTopic: 6, fleetOffsetsTopic: 1} {
		conf := compact
		if topic == fleetEventsTopic {
			conf = nil
		}
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, parts, 1, conf, topic)
		require.NoError(t, err)
		require.NoError(t, resp.Err)
	}
	return env
}

// put adds or replaces the stream name, served at path /s/<name>; an empty
// path removes it.
func (e *fleetEnv) put(name string, tombstone bool) {
	e.t.Helper()
	path := ""
	if !tombstone {
		path = "/s/" + name
	}
	e.putPath(name, path)
}

func (e *fleetEnv) putPath(name, path string) {
	e.t.Helper()
	rec := &kgo.Record{Key: []byte(name)}
	if path != "" {
		rec.Value = []byte(`{"url":"` + e.srv.URL() + path + `"}`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(e.t, e.editor.ProduceSync(ctx, rec).FirstErr())
}

const (
	fleetStreamsTopic = "fleet-streams"
	fleetEventsTopic  = "fleet-events"
	fleetOffsetsTopic = "fleet-offsets"
)

func (e *fleetEnv) start(id string) *fleetInstance {
	e.t.Helper()
	in := &fleetInstance{id: id, http: freePort(e.t)}
	in.proc = startBin(e.t, binOpts{Dir: e.t.TempDir(), Env: []string{
		"KAFKA_BROKERS=" + e.brokers,
		"STREAMS_TOPIC=" + fleetStreamsTopic,
		"FLEET_GROUP=fleet",
		"KAFKA_TOPIC=" + fleetEventsTopic,
		"OFFSETS_TOPIC=" + fleetOffsetsTopic,
		"INSTANCE_ID=" + id,
		"HTTP_ADDRESS=" + in.http,
	}}, "run", filepath.Join(repoRoot, "resources", "fleet.yaml"))
	e.t.Cleanup(func() {
		if e.t.Failed() {
			out := in.proc.Output()
			e.t.Logf("%s's log (its last 16 KiB):\n%s", id, out[max(0, len(out)-16<<10):])
		}
	})
	return in
}

// fleetListing is what GET /sse_fleet answers.
type fleetListing struct {
	Instance string `json:"instance"`
	Streams  []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"streams"`
	Members []struct {
		ClientID   string  `json:"client_id"`
		Partitions []int32 `json:"partitions"`
	} `json:"members"`
}

// listing reads the instance's /sse_fleet (ok false while it does not answer).
func (in *fleetInstance) listing() (fleetListing, bool) {
	var l fleetListing
	resp, err := http.Get("http://" + in.http + "/sse_fleet")
	if err != nil {
		return l, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&l) != nil {
		return l, false
	}
	return l, true
}

func (in *fleetInstance) streams() map[string]bool {
	l, _ := in.listing()
	out := map[string]bool{}
	for _, s := range l.Streams {
		out[s.Name] = true
	}
	return out
}

// checkObservable checks /ready, and that /metrics and /sse_fleet agree
// on the streams the instance runs.
func (in *fleetInstance) checkObservable(t *testing.T) {
	t.Helper()
	within(t, 30*time.Second, in.id+" is ready", func() bool {
		resp, err := http.Get("http://" + in.http + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	l, ok := in.listing()
	require.True(t, ok, "GET /sse_fleet of %s", in.id)
	assert.Equal(t, in.id, l.Instance)
	var members []string
	for _, m := range l.Members {
		members = append(members, m.ClientID)
	}
	assert.Contains(t, members, in.id, "the group's members, at /sse_fleet")
	body := scrapeMetrics(t, in.http)
	metric := func(name string) float64 {
		m := regexp.MustCompile(`(?m)^` + name + `(\{[^}]*\})? ([0-9.e+]+)$`).FindSubmatch(body)
		require.NotNil(t, m, "no %s in /metrics of %s", name, in.id)
		v, err := strconv.ParseFloat(string(m[2]), 64)
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, float64(len(l.Streams)), metric("sse_fleet_streams"), in.id)
	assert.GreaterOrEqual(t, metric("sse_fleet_rebalances"), 1.0, in.id)
}

// within polls cond every 100 ms until it holds, failing after limit.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// TestFleet runs one fleet through every case of the fleet's proof in turn:
// spread over instances, a join, churn of the stream list, a SIGKILL, and a
// SIGSTOP past the session timeout; then every stream's events are checked
// exactly once and in order in Kafka.
func TestFleet(t *testing.T) {
	t.Parallel()
	const streamCount = 300
	env := newFleetEnv(t, 30, 200*time.Millisecond)
	srv, put := env.srv, env.put
	var names []string
	for i := range streamCount {
		names = append(names, fmt.Sprintf("s%03d", i))
		put(names[i], false)
	}
	sink := startFleetSink(t, env.brokers, fleetEventsTopic)
	allProduce := func(names []string, after map[string]int) func() bool {
		return func() bool {
			for _, n := range names {
				if c, _ := sink.count(n); c <= after[n] {
					return false
				}
			}
			return true
		}
	}

	// Two instances share the streams.
	a, b := env.start("fleet-a"), env.start("fleet-b")
	d := within(t, 60*time.Second, "every stream produces on a fleet of 2", allProduce(names, nil))
	t.Logf("fleet of 2: every stream produced after %v", d)

	// Join: a third takes a fair share, and no stream is read twice at once.
	srv.longestOverlap()
	c := env.start("fleet-c")
	fair := func() bool {
		total := 0
		for _, in := range []*fleetInstance{a, b, c} {
			n := len(in.streams())
			if n < 70 || n > 130 {
				return false
			}
			total += n
		}
		return total == streamCount
	}
	d = within(t, 60*time.Second, "c takes a fair share, each instance runs 70-130 streams", fair)
	t.Logf("join: fair share after %v", d)
	overlap, of := srv.longestOverlap()
	assert.Less(t, overlap, 2*time.Second, "stream %s had two connections open during the clean rebalance", of)
	for _, in := range []*fleetInstance{a, b, c} {
		in.checkObservable(t)
	}

	// Churn: 20 streams added, 20 removed.
	var added, removed []string
	for i := range 20 {
		added = append(added, fmt.Sprintf("n%03d", i))
		put(added[i], false)
		removed = append(removed, names[i*7])
		put(names[i*7], true)
	}
	within(t, 30*time.Second, "the added streams produce", allProduce(added, nil))
	within(t, 30*time.Second, "the removed streams' connections close", func() bool {
		for _, n := range removed {
			if srv.openConns(n) > 0 {
				return false
			}
		}
		return true
	})
	live := map[string]bool{}
	for _, n := range append(names, added...) {
		live[n] = true
	}
	for _, n := range removed {
		delete(live, n)
	}

	// Kill: c's streams produce again on a and b within 30 s.
	cs := c.streams()
	require.NotEmpty(t, cs)
	var moved []string
	at := map[string]int{}
	for n := range cs {
		moved = append(moved, n)
	}
	require.Equal(t, -1, c.proc.Signal(syscall.SIGKILL))
	for _, n := range moved {
		at[n], _ = sink.count(n)
	}
	d = within(t, 30*time.Second, "the killed instance's streams produce again", allProduce(moved, at))
	t.Logf("kill: the killed instance's %d streams produced again after %v", len(moved), d)

	// Zombie: b paused past its session timeout (6 s), then resumed.
	require.NoError(t, b.proc.cmd.Process.Signal(syscall.SIGSTOP))
	within(t, 30*time.Second, "a runs every stream while b is stopped", func() bool { return len(a.streams()) == len(live) })
	require.NoError(t, b.proc.cmd.Process.Signal(syscall.SIGCONT))
	within(t, 60*time.Second, "b rejoins or exits", func() bool {
		return b.proc.Exited() || len(b.streams()) > 0
	})
	if b.proc.Exited() {
		t.Logf("b exited after its pause:\n%s", b.proc.Output())
	}

	// Every stream to its end: exactly once, in order.
	last := 0
	for n := range live {
		_, l := sink.count(n)
		last = max(last, l)
	}
	last += 10
	srv.finish(last)
	var liveNames []string
	for n := range live {
		liveNames = append(liveNames, n)
	}
	sort.Strings(liveNames)
	within(t, 60*time.Second, "every stream reaches its last event", func() bool {
		for _, n := range liveNames {
			if _, l := sink.count(n); l < last {
				return false
			}
		}
		return true
	})
	sink.check(t, liveNames, last)
	sink.check(t, removed, 0)
}

// TestFleetStandby runs two instances on a stream list of one partition:
// one runs every stream, the other is a ready standby, and takes over when
// the first is killed. A stream that ended (204) stays ended, without
// ending its instance, until its record changes.
func TestFleetStandby(t *testing.T) {
	t.Parallel()
	env := newFleetEnv(t, 1, 200*time.Millisecond)
	names := []string{"a", "b", "c"}
	for _, n := range names {
		env.put(n, false)
	}
	env.putPath("ended", "/end/ended")
	sink := startFleetSink(t, env.brokers, fleetEventsTopic)
	produced := func(names []string, after map[string]int) func() bool {
		return func() bool {
			for _, n := range names {
				if c, _ := sink.count(n); c <= after[n] {
					return false
				}
			}
			return true
		}
	}
	one := env.start("fleet-1")
	within(t, 30*time.Second, "fleet-1 runs the streams", produced(names, nil))
	two := env.start("fleet-2")
	within(t, 30*time.Second, "fleet-2 joins", func() bool {
		l, ok := one.listing()
		return ok && len(l.Members) == 2
	})
	active, standby := one, two
	if len(one.streams()) == 0 {
		active, standby = two, one
	}
	assert.Len(t, active.streams(), 4, "the ended stream is listed, ended")
	assert.Empty(t, standby.streams())
	standby.checkObservable(t)
	active.checkObservable(t)

	at := map[string]int{}
	for _, n := range names {
		at[n], _ = sink.count(n)
	}
	require.Equal(t, -1, active.proc.Signal(syscall.SIGKILL))
	d := within(t, 30*time.Second, "the standby resumes the streams", produced(names, at))
	t.Logf("standby took over after %v", d)
	assert.False(t, standby.proc.Exited(), "the ended stream does not end its instance")

	// A new record for the ended stream starts it again.
	env.put("ended", false)
	within(t, 30*time.Second, "the ended stream, changed, produces", produced([]string{"ended"}, nil))
	last := 0
	for _, n := range names {
		_, l := sink.count(n)
		last = max(last, l)
	}
	env.srv.finish(last + 5)
	all := append(names, "ended")
	within(t, 30*time.Second, "every stream reaches its last event", func() bool {
		for _, n := range all {
			if _, l := sink.count(n); l < last+5 {
				return false
			}
		}
		return true
	})
	sink.check(t, all, last+5)
}
