// Package fleet shares a list of SSE streams among the instances of a
// benthos-sse fleet through a Kafka consumer group, so that each stream is
// read by one instance and moves when that instance leaves or dies. It is
// part of the distribution only: neither `input` nor `sse` imports it.
//
// # The stream list is a table
//
// The streams topic is compacted: a record's key is the stream's name, its
// value a [Spec] (JSON), a tombstone removes the stream. Every instance
// joins one consumer group on the topic with the cooperative-sticky
// balancer, so a rebalance moves only the partitions that must move. The
// [Reader] reads each newly assigned partition from its start (never from a
// committed group offset), holds back its streams until it has read up to
// the end the partition had at assignment, then starts them all through a
// [Runner]; after that, each record starts, replaces or removes one stream.
//
// # Hand-off
//
//   - Revocation (a clean rebalance, an instance leaving): OnPartitionsRevoked
//     returns only once Runner.Remove has returned for every stream of the
//     partitions, that is once their in-flight events are committed or
//     aborted. Only then can the group give the partitions to another
//     instance.
//   - Loss (this instance was removed from the group, e.g. after a pause past
//     its session timeout): the partitions already belong to someone else.
//     The streams' leases end first, so that none of their in-flight events
//     can commit, then the streams are removed.
//   - Start: a newly assigned stream resumes from a resume point read after
//     every transaction the previous owner had open (with the resume points
//     it wrote) has committed or aborted. The kafka_offsets cache does this
//     for each read: it waits until its read_committed tail of the offsets
//     topic has passed the high watermark listed at the read, which comes
//     after the assignment. Config.StableTopic makes the Reader itself wait
//     so, once per assignment, for a checkpoint store that does not. A dead
//     owner's transaction ends at its transaction timeout, so fail-over takes
//     at most the session timeout plus the transaction timeout, plus a
//     reconnect.
//
// # Fencing zombies (KIP-447)
//
// An instance paused past its session timeout (GC, frozen VM, SIGSTOP) wakes
// with in-flight events of streams it no longer owns. The transactional
// output calls [Reader.Commit] inside each transaction, after producing the
// batch's records and resume points and before committing. Commit sends
// AddOffsetsToTxn and a TxnOffsetCommit for the fleet's group that carries
// this instance's member ID and generation. The group coordinator refuses it
// (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION) once the group has removed the
// instance, and the output aborts: the broker, not a timer, refuses the
// stale writer. Nothing the zombie read as the old owner reaches a
// read_committed reader, and the new owner resumes from the last committed
// resume point.
//
// Why this is enough: a TxnOffsetCommit that succeeds was validated while
// the instance was still a member of the current generation, so no other
// instance owned the batch's streams then (a partition moves only after its
// owner revoked it, which waits for these very events, or after the owner was
// removed, which bumps the generation). The batch's records were produced
// before that moment, so they lie below the high watermark the next owner
// snapshots when it reads the resume point, and it waits for this
// transaction to end before it reads it. Two windows remain, both closed by
// leases (an ownership token per stream, carried by each message in the
// sse_fleet_lease metadata):
//
//   - the instance noticed its loss and rejoined as a new member between
//     the lease check and the request: leases end in OnPartitionsLost, which
//     the client runs before it rejoins, and Commit checks leases and
//     membership again after the request;
//   - an event read under an old ownership is committed after the stream came
//     back to this instance: its lease is not the stream's current one.
//
// The alternative, a transactional ID per partition (KIP-618's approach),
// needs one producer per partition of the streams topic on every instance
// and fences only through epochs bumped by the next owner's
// InitProducerID; KIP-447 keeps one producer per instance (TRANSACTIONAL_ID
// = INSTANCE_ID) and lets the coordinator that already decides ownership
// refuse the stale writer. kfake enforces the member and generation checks
// of TxnOffsetCommit v3+ (kfake txns.go, doTxnOffsetCommit), which the tests
// here prove against a paused member.
package fleet
