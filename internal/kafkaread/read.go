// Package kafkaread reads a Kafka topic to its end as a read_committed
// consumer sees it. The distribution's kafka_offsets cache and the
// transactional kafka_franz output read resume points with it, and the
// tests read what a pipeline committed with it, so that all three agree on
// what "committed" means.
package kafkaread

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ToEnd returns the committed records of every partition of topic, each
// partition's in offset order, up to the topic's high watermark at the time
// of the call. It waits until every transaction open at that time has
// ended: a read_committed fetch stops at the first offset of an open
// transaction, so returning earlier could miss a record being committed.
// opts are the client options (brokers, TLS, SASL); ToEnd adds the
// consuming ones. A topic that does not exist has no records. ctx bounds
// the wait: a transaction that nobody ends (a producer that died, before
// the transaction timeout aborts it) makes ToEnd return ctx's error.
//
// Transaction markers, which take offsets of their own, are fetched too
// (kgo.KeepControlRecords), so that the reader knows it passed an offset
// even when the last record below the watermark is a marker.
func ToEnd(ctx context.Context, opts []kgo.Opt, topic string) ([]*kgo.Record, error) {
	return read(ctx, opts, topic, (*kadm.Client).ListEndOffsets)
}

// ToStable is ToEnd up to the last stable offset instead: what is
// committed now, without waiting for open transactions. A reader that
// must not miss a commit in progress uses ToEnd.
func ToStable(ctx context.Context, opts []kgo.Opt, topic string) ([]*kgo.Record, error) {
	return read(ctx, opts, topic, (*kadm.Client).ListCommittedOffsets)
}

func read(ctx context.Context, opts []kgo.Opt, topic string, list func(*kadm.Client, context.Context, ...string) (kadm.ListedOffsets, error)) ([]*kgo.Record, error) {
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	ends, err := list(kadm.NewClient(adm), ctx, topic)
	adm.Close()
	if err != nil {
		return nil, fmt.Errorf("list the end offsets of %s: %w", topic, err)
	}
	want, err := nonEmpty(ends, topic)
	if err != nil {
		return nil, err
	}
	start := map[int32]kgo.Offset{}
	for p := range want {
		start[p] = kgo.NewOffset().AtStart()
	}
	if len(want) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(opts[:len(opts):len(opts)],
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	byPart := map[int32][]*kgo.Record{}
	next := map[int32]int64{}
	done := func() bool {
		for p, end := range want {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s to offsets %v (at %v): %w", topic, want, next, err)
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("fetch partition %d: %w", p, err))
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if r.Offset < want[r.Partition] && !r.Attrs.IsControl() {
				byPart[r.Partition] = append(byPart[r.Partition], r)
			}
		})
	}
	var out []*kgo.Record
	for _, p := range slices.Sorted(maps.Keys(byPart)) {
		out = append(out, byPart[p]...)
	}
	return out, nil
}

// Newest returns the newest value of each key among records, as a
// compacted topic keeps it.
func Newest(records []*kgo.Record) map[string]string {
	m := make(map[string]string, len(records))
	for _, r := range records {
		m[string(r.Key)] = string(r.Value)
	}
	return m
}

// nonEmpty returns the end offset of each partition of topic that has
// records, from listed end offsets. A topic that does not exist has none;
// any other partition's error is returned, all of them joined.
func nonEmpty(ends kadm.ListedOffsets, topic string) (map[int32]int64, error) {
	want := map[int32]int64{}
	var perr error
	ends.Each(func(o kadm.ListedOffset) {
		switch {
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
		case o.Err != nil:
			perr = errors.Join(perr, fmt.Errorf("partition %d: %w", o.Partition, o.Err))
		case o.Offset > 0:
			want[o.Partition] = o.Offset
		}
	})
	if perr != nil {
		return nil, fmt.Errorf("list the end offsets of %s: %w", topic, perr)
	}
	return want, nil
}
