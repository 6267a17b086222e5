package fleet

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clock orders the calls of every fake runner of a test, and signals each.
type clock struct {
	n       atomic.Int64
	changed chan struct{}
}

func newClock() *clock { return &clock{changed: make(chan struct{}, 1)} }

func (c *clock) tick() int64 {
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return c.n.Add(1)
}

// waitFor checks cond after each runner call, failing after 20 s.
func (c *clock) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-c.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// call is one Runner call seen by a fakeRunner.
type call struct {
	op   string // put, remove (returned)
	name string
	url  string
	at   int64
}

// fakeRunner records the streams a Reader runs. Remove takes removeDelay,
// standing for the settling of in-flight events.
type fakeRunner struct {
	clock       *clock
	removeDelay time.Duration

	mu      sync.Mutex
	running map[string]Spec
	calls   []call
}

func newFakeRunner(c *clock) *fakeRunner {
	return &fakeRunner{clock: c, running: map[string]Spec{}}
}

func (f *fakeRunner) Put(name string, spec Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[name] = spec
	f.calls = append(f.calls, call{"put", name, spec.URL, f.clock.tick()})
	return nil
}

func (f *fakeRunner) Remove(ctx context.Context, name string) error {
	if f.removeDelay > 0 {
		t := time.NewTimer(f.removeDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.running[name]; !ok {
		return fmt.Errorf("remove of %q, which is not running", name)
	}
	delete(f.running, name)
	f.calls = append(f.calls, call{"remove", name, "", f.clock.tick()})
	return nil
}

func (f *fakeRunner) snapshot() map[string]Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.running)
}

func (f *fakeRunner) callsOf(name string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "1000"}),
		kfake.SeedTopics(4, "streams"),
		kfake.SeedTopics(1, "offsets", "out"),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// editor produces records to the streams topic.
type editor struct {
	t  *testing.T
	cl *kgo.Client
}

func newEditor(t *testing.T, c *kfake.Cluster) *editor {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("streams"))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return &editor{t, cl}
}

func (e *editor) put(name, value string) {
	e.t.Helper()
	var v []byte
	if value != "" {
		v = []byte(value)
	}
	require.NoError(e.t, e.cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte(name), Value: v}).FirstErr())
}

func (e *editor) url(name, url string) { e.put(name, `{"url":"`+url+`"}`) }

func startReader(t *testing.T, c *kfake.Cluster, id string, run Runner, stable string, opts ...kgo.Opt) *Reader {
	t.Helper()
	r, err := NewReader(Config{
		Brokers:          c.ListenAddrs(),
		Topic:            "streams",
		Group:            "fleet",
		ClientID:         id,
		SessionTimeout:   3 * time.Second, // room for a loaded machine
		RebalanceTimeout: 10 * time.Second,
		StableTopic:      stable,
		Logger:           testLogger{t, id},
		Opts:             opts,
	}, run)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { r.Close(); cancel(); <-done })
	return r
}

type testLogger struct {
	t  *testing.T
	id string
}

func (l testLogger) Infof(f string, a ...any)  { l.t.Logf(l.id+" INFO "+f, a...) }
func (l testLogger) Warnf(f string, a ...any)  { l.t.Logf(l.id+" WARN "+f, a...) }
func (l testLogger) Errorf(f string, a ...any) { l.t.Logf(l.id+" ERROR "+f, a...) }

// union checks that the runners run exactly want, each stream on one runner.
func union(runners ...*fakeRunner) (map[string]string, bool) {
	all := map[string]string{}
	for _, r := range runners {
		for name, s := range r.snapshot() {
			if _, dup := all[name]; dup {
				return all, false
			}
			all[name] = s.URL
		}
	}
	return all, true
}

func TestReaderTable(t *testing.T) {
	c := newCluster(t)
	ed := newEditor(t, c)
	want := map[string]string{}
	for i := range 12 {
		name := fmt.Sprintf("s%02d", i)
		want[name] = "http://127.0.0.1:1/" + name
		ed.url(name, "http://127.0.0.1:1/old-"+name)
	}
	// The table's newest value wins, a tombstone removes, and a bad
	// value stops only its stream.
	for name, u := range want {
		ed.url(name, u)
	}
	ed.url("gone", "http://127.0.0.1:1/gone")
	ed.put("gone", "")
	ed.url("emptied", "http://127.0.0.1:1/emptied")
	require.NoError(t, ed.cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("emptied"), Value: []byte{}}).FirstErr())
	ed.put("bad", `{"url":"ftp://x"}`)
	ed.put("typo", `{"url":"http://127.0.0.1:1/t","header":{}}`)

	clk := newClock()
	a := newFakeRunner(clk)
	ra := startReader(t, c, "a", a, "")
	clk.waitFor(t, "a runs the table", func() bool { got, _ := union(a); return maps.Equal(got, want) })
	for name := range want {
		assert.Len(t, a.callsOf(name), 1, "%s started once, with its newest value", name)
	}
	assert.Empty(t, a.callsOf("gone"))
	assert.Empty(t, a.callsOf("emptied"), "an empty value removes, as a tombstone does")
	assert.EqualValues(t, 2, ra.BadRecords())

	// Edits at run time.
	ed.url("s00", "http://127.0.0.1:1/new")
	want["s00"] = "http://127.0.0.1:1/new"
	ed.put("s01", "")
	delete(want, "s01")
	ed.url("added", "http://127.0.0.1:1/added")
	want["added"] = "http://127.0.0.1:1/added"
	ed.url("s02", want["s02"]) // same value: no restart
	clk.waitFor(t, "a runs the edited table", func() bool { got, _ := union(a); return maps.Equal(got, want) })
	assert.Len(t, a.callsOf("s02"), 1)
	assert.EqualValues(t, len(want), ra.Running())
	assert.Len(t, ra.Streams(), len(want))
}

func TestReaderRebalanceSettlesFirst(t *testing.T) {
	c := newCluster(t)
	ed := newEditor(t, c)
	want := map[string]string{}
	for i := range 40 {
		name := fmt.Sprintf("s%02d", i)
		want[name] = "http://127.0.0.1:1/" + name
		ed.url(name, want[name])
	}
	clk := newClock()
	a, b := newFakeRunner(clk), newFakeRunner(clk)
	a.removeDelay = 300 * time.Millisecond // settling takes a while
	ra := startReader(t, c, "a", a, "")
	clk.waitFor(t, "a runs all", func() bool { got, _ := union(a); return maps.Equal(got, want) })

	rb := startReader(t, c, "b", b, "")
	clk.waitFor(t, "a and b share the table", func() bool {
		got, ok := union(a, b)
		return ok && maps.Equal(got, want) && len(a.snapshot()) > 0 && len(b.snapshot()) > 0
	})
	moved := 0
	for name := range b.snapshot() {
		ac, bc := a.callsOf(name), b.callsOf(name)
		require.Len(t, ac, 2, "%s: put and remove on a", name)
		require.NotEmpty(t, bc)
		assert.Less(t, ac[1].at, bc[0].at, "%s started on b before a settled it", name)
		moved++
	}
	assert.Positive(t, moved)
	assert.GreaterOrEqual(t, rb.Rebalances(), int64(1))
	assert.GreaterOrEqual(t, ra.Rebalances(), int64(2))

	// a leaves cleanly: b takes everything, each stream after a settled it.
	ra.Close()
	clk.waitFor(t, "b runs all", func() bool { got, _ := union(b); return maps.Equal(got, want) })
	assert.Empty(t, a.snapshot())
	for name := range want {
		ac, bc := a.callsOf(name), b.callsOf(name)
		if len(ac) == 2 && len(bc) > 0 {
			assert.Less(t, ac[1].at, bc[len(bc)-1].at, name)
		}
	}
	names := slices.Collect(maps.Keys(want))
	sort.Strings(names)
	got := make([]string, 0, len(names))
	for _, s := range rb.Streams() {
		got = append(got, s.Name)
	}
	assert.Equal(t, names, got)
}
