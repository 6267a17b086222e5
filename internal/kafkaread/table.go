package kafkaread

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Table keeps the newest committed value of every key of a topic, read by
// one tailing read_committed consumer. Get answers what
// Newest(ToEnd(...))[key] would, at the cost of one ListOffsets request
// instead of a read of the whole topic: a fleet instance that takes over
// thousands of streams at once asks for thousands of resume points.
type Table struct {
	opts  []kgo.Opt
	topic string

	startOnce sync.Once
	startErr  error
	adm       *kadm.Client
	admCl     *kgo.Client
	cl        *kgo.Client
	cancel    context.CancelFunc
	done      chan struct{}

	mu      sync.Mutex
	values  map[string]string
	next    map[int32]int64 // the offset after the last one read, per partition
	err     error           // the tail stopped
	changed chan struct{}   // closed and replaced after every poll
}

// NewTable returns a table of topic; it starts reading at the first Get.
// opts are the client options (brokers, TLS, SASL).
func NewTable(opts []kgo.Opt, topic string) *Table {
	return &Table{opts: opts, topic: topic, values: map[string]string{}, next: map[int32]int64{}, changed: make(chan struct{})}
}

func (t *Table) start() error {
	t.startOnce.Do(func() {
		admCl, err := kgo.NewClient(t.opts...)
		if err != nil {
			t.startErr = err
			return
		}
		t.admCl, t.adm = admCl, kadm.NewClient(admCl)
		cl, err := kgo.NewClient(append(t.opts[:len(t.opts):len(t.opts)],
			kgo.ConsumeTopics(t.topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.KeepControlRecords(),
		)...)
		if err != nil {
			t.startErr = err
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.cl, t.cancel, t.done = cl, cancel, make(chan struct{})
		go t.tail(ctx)
	})
	return t.startErr
}

func (t *Table) tail(ctx context.Context) {
	defer close(t.done)
	for {
		fs := t.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			t.mu.Lock()
			t.err = errors.New("kafkaread: the table is closed")
			t.broadcast()
			t.mu.Unlock()
			return
		}
		t.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			t.next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				t.values[string(r.Key)] = string(r.Value)
			}
		})
		t.broadcast()
		t.mu.Unlock()
	}
}

// broadcast wakes the Gets waiting for the tail; t.mu is held.
func (t *Table) broadcast() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Get returns the newest value of key among the records committed below
// the topic's high watermarks at the time of the call. Like ToEnd, it waits
// until every transaction open at that time has ended; ctx bounds the
// wait. A topic that does not exist has no keys.
func (t *Table) Get(ctx context.Context, key string) (string, bool, error) {
	if err := t.start(); err != nil {
		return "", false, err
	}
	ends, err := t.adm.ListEndOffsets(ctx, t.topic)
	if err != nil {
		return "", false, fmt.Errorf("list the end offsets of %s: %w", t.topic, err)
	}
	want, err := nonEmpty(ends, t.topic)
	if err != nil {
		return "", false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		behind := false
		for p, end := range want {
			if t.next[p] < end {
				behind = true
			}
		}
		if !behind {
			v, ok := t.values[key]
			return v, ok, nil
		}
		if t.err != nil {
			return "", false, t.err
		}
		changed := t.changed
		t.mu.Unlock()
		select {
		case <-changed:
			t.mu.Lock()
		case <-ctx.Done():
			t.mu.Lock()
			return "", false, fmt.Errorf("read %s to offsets %v (at %v): %w", t.topic, want, t.next, ctx.Err())
		}
	}
}

// Close stops the tail.
func (t *Table) Close() {
	t.startOnce.Do(func() { t.startErr = errors.New("kafkaread: the table is closed") })
	if t.cancel != nil {
		t.cancel()
		t.cl.Close()
		<-t.done
		t.admCl.Close()
	}
}
