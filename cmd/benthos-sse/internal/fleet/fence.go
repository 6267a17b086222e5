package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaseMeta is the metadata key the fleet input sets on every message: the
// lease of its stream when the event was read. The transactional output
// hands the batch's leases to [Reader.Commit].
const LeaseMeta = "sse_fleet_lease"

// ErrFenced is returned by [Reader.Commit] when the batch must not commit:
// a lease it was read under has ended, or the group coordinator refused this
// instance's membership. The output aborts the transaction; the stream's
// owner resumes from the last committed resume point, so nothing is lost.
var ErrFenced = errors.New("fleet: fenced")

// Lease is a stream's ownership by this instance: granted when the stream
// starts here, ended when its partition is revoked (after settling) or lost
// (before settling). An event read under an ended lease never commits: the
// partition's next owner reads it again from the committed resume point.
type Lease struct {
	Stream string
	ID     uint64
}

// String is the metadata value of the lease.
func (l Lease) String() string { return strconv.FormatUint(l.ID, 10) }

// ParseLease reads a lease from a message's sse_stream and LeaseMeta values.
func ParseLease(stream, id string) (Lease, error) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return Lease{}, fmt.Errorf("%s %q: %w", LeaseMeta, id, err)
	}
	return Lease{Stream: stream, ID: n}, nil
}

// leases are the live leases of the running streams. They have their own
// lock, never held across a call: Reader.mu is held while a revocation
// waits for in-flight events to settle, and settling goes through Commit.
type leases struct {
	mu   sync.RWMutex
	m    map[string]uint64
	part map[string]int32 // the partition of each leased stream
	next uint64
	pos  map[int32]int64 // partition → table position, the offset Commit sends
}

func (l *leases) grant(name string, p int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	l.m[name] = l.next
	if l.part == nil {
		l.part = map[string]int32{}
	}
	l.part[name] = p
}

func (l *leases) revoke(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, name)
	delete(l.part, name)
}

func (l *leases) setPos(p int32, next int64, owned bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pos == nil {
		l.pos = map[int32]int64{}
	}
	if owned {
		l.pos[p] = next
	} else {
		delete(l.pos, p)
	}
}

// held reports whether every lease is live, and the owned partitions'
// positions.
func (l *leases) held(ls []Lease) (map[int32]int64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, x := range ls {
		if id, ok := l.m[x.Stream]; !ok || id != x.ID {
			return nil, fmt.Errorf("%w: stream %q was read under lease %d, which has ended", ErrFenced, x.Stream, x.ID)
		}
	}
	pos := make(map[int32]int64, len(l.pos))
	for p, o := range l.pos {
		pos[p] = o
	}
	return pos, nil
}

// Lease is the live lease of a running stream.
func (r *Reader) Lease(name string) (Lease, bool) {
	r.leases.mu.RLock()
	defer r.leases.mu.RUnlock()
	id, ok := r.leases.m[name]
	return Lease{Stream: name, ID: id}, ok
}

// Commit ties the open transaction of producer to this instance's group
// membership (KIP-447), so that the group coordinator refuses it if the group
// has moved on without this instance. A transactional output calls it inside
// each transaction, after the batch's records and resume points are produced
// and flushed, and before EndTransaction(commit), with the leases the batch's
// events were read under. On any error the output must abort.
//
// It checks that every lease is live, then sends AddOffsetsToTxn and a
// TxnOffsetCommit carrying the member ID and generation, then checks the
// leases and membership again. The coordinator validates member and
// generation: an instance that was paused past its session timeout was
// removed from the group and gets UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION.
// The second check closes the window where the instance noticed the loss and
// rejoined as a new member between the first check and the request: leases
// end in OnPartitionsLost, before the client rejoins.
//
// The offsets it commits for the streams topic are this instance's table
// positions; the fleet never reads them back (a partition is always read
// from its start), so they serve only as fencing tokens and as lag in
// `kafka-consumer-groups --describe`.
func (r *Reader) Commit(ctx context.Context, producer *kgo.Client, held []Lease) error {
	pos, err := r.leases.held(held)
	if err != nil {
		return err
	}
	member, gen := r.cl.GroupMetadata()
	if member == "" || gen < 0 {
		return fmt.Errorf("%w: not a member of group %q", ErrFenced, r.cfg.Group)
	}
	if len(pos) == 0 {
		return fmt.Errorf("%w: owns no partition of %s", ErrFenced, r.cfg.Topic)
	}
	txnID, _ := producer.OptValue(kgo.TransactionalID).(string)
	if txnID == "" {
		return errors.New("fleet: the output's client is not transactional")
	}
	pid, epoch, err := producer.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("fleet: producer ID: %w", err)
	}
	topicID, err := r.topicID(ctx)
	if err != nil {
		return err
	}

	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = txnID, pid, epoch, r.cfg.Group
	addResp, err := add.RequestWith(ctx, producer)
	if err == nil {
		err = kerr.ErrorForCode(addResp.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("fleet: AddOffsetsToTxn for group %q: %w", r.cfg.Group, err)
	}

	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = txnID, r.cfg.Group, pid, epoch
	req.MemberID, req.Generation = member, gen
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic, t.TopicID = r.cfg.Topic, topicID
	for p, o := range pos {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, o, -1
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, producer)
	if err != nil {
		return fmt.Errorf("fleet: TxnOffsetCommit for group %q: %w", r.cfg.Group, err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				if isFencing(err) {
					return fmt.Errorf("%w: the coordinator refused member %s of generation %d of group %q: %w", ErrFenced, member, gen, r.cfg.Group, err)
				}
				return fmt.Errorf("fleet: TxnOffsetCommit for group %q: %w", r.cfg.Group, err)
			}
		}
	}

	if _, err := r.leases.held(held); err != nil {
		return err
	}
	if m, g := r.cl.GroupMetadata(); m != member || g != gen {
		return fmt.Errorf("%w: group %q moved from generation %d to %d during the commit", ErrFenced, r.cfg.Group, gen, g)
	}
	return nil
}

// isFencing reports the coordinator's answers that mean the membership the
// commit carried is no longer current.
func isFencing(err error) bool {
	return errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) ||
		errors.Is(err, kerr.FencedInstanceID) || errors.Is(err, kerr.StaleMemberEpoch) ||
		errors.Is(err, kerr.RebalanceInProgress)
}

// topicID is the streams topic's ID, which TxnOffsetCommit v6 carries.
func (r *Reader) topicID(ctx context.Context) ([16]byte, error) {
	r.idOnce.Lock()
	defer r.idOnce.Unlock()
	if r.id != ([16]byte{}) {
		return r.id, nil
	}
	td, err := r.adm.ListTopics(ctx, r.cfg.Topic)
	if err != nil {
		return r.id, fmt.Errorf("fleet: metadata of %s: %w", r.cfg.Topic, err)
	}
	d, ok := td[r.cfg.Topic]
	if !ok || d.Err != nil {
		return r.id, fmt.Errorf("fleet: metadata of %s: %v", r.cfg.Topic, d.Err)
	}
	r.id = d.ID
	return r.id, nil
}
