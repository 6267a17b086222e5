package input

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"

	benthossse "github.com/benthos-sse/benthos-sse"
)

// Checkpoints an output owns.
//
// A checkpoint cache may serve resume points that an output writes rather
// than the input: the distribution's kafka_offsets cache reads those that a
// transactional kafka_franz output commits in the same Kafka transaction as
// the records. Such a cache says so in band, by answering a Get of
// <checkpoint key> + [OwnedMarkerSuffix] with [OwnedMarker], because Benthos
// hands a component its cache resources behind wrappers that hide every
// interface but service.Cache. The input then never writes checkpoints of
// its own (a write outside the output's transaction would be wrong whenever
// the transaction's outcome is unknown), and it refuses the settings under
// which one resume point per stream cannot be exactly once.
const (
	// OwnedMarkerSuffix is appended to the checkpoint key for the marker.
	OwnedMarkerSuffix = ".owner"
	// OwnedMarker is the marker's value: the resume points are committed by
	// an output, with the records.
	OwnedMarker = "output-transaction"
)

// OwnedCheckpointKey returns the checkpoint key that a cache key the input
// reads the resume point from belongs to. ok is false for every other key,
// the marker and the input's second slot included: a cache that owns no
// generations answers the first slot only, and not-found for the second.
// It is exported for such caches, which must not hard-code the input's
// slot naming.
func OwnedCheckpointKey(cacheKey string) (key string, ok bool) {
	return strings.CutSuffix(cacheKey, ".a")
}

// EncodeOwnedCheckpoint renders resume point id as the value of the slot
// [OwnedCheckpointKey] accepts. The input checks every slot value (magic,
// generation, checksum) to detect a write torn by a crash, so a cache
// serving resume points written by someone else must encode them as the
// input's own writes are; it is exported for that and nothing else.
func EncodeOwnedCheckpoint(id string) []byte { return encodeCheckpoint(0, id) }

// ownedBy reports whether the cache declares that an output owns the
// checkpoint (see [OwnedMarker]).
func (s *checkpointStore) ownedBy(ctx context.Context) (bool, error) {
	var v []byte
	var err error
	if aerr := s.res.AccessCache(ctx, s.cache, func(c service.Cache) {
		v, err = c.Get(ctx, s.key+OwnedMarkerSuffix)
	}); aerr != nil {
		return false, aerr
	}
	if errors.Is(err, service.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %q: %w", s.key+OwnedMarkerSuffix, err)
	}
	return string(v) == OwnedMarker, nil
}

// checkOwnedCheckpoint refuses the settings under which a checkpoint an
// output commits with the records cannot be exactly once: with more than
// one batch in flight a later batch can commit its resume point before an
// earlier batch commits, and a crash then skips the earlier one; with
// auto_replay_nacks: false a rejected batch is dropped while later ones
// commit past it.
func checkOwnedCheckpoint(conf *service.ParsedConfig, c *benthossse.Config) error {
	if c.MaxInFlight != 1 {
		return benthossse.FieldError(benthossse.FieldMaxInFlight, fmt.Errorf("%d cannot be exactly once with checkpoint.cache %q, whose resume points an output commits with its records: set max_in_flight: 1", c.MaxInFlight, c.CheckpointCache))
	}
	replay, err := conf.FieldBool(service.AutoRetryNacksToggleFieldName)
	if err != nil {
		return err
	}
	if !replay {
		return benthossse.FieldError(service.AutoRetryNacksToggleFieldName, fmt.Errorf("false cannot be exactly once with checkpoint.cache %q, whose resume points an output commits with its records: a rejected batch would be dropped while later ones commit past it", c.CheckpointCache))
	}
	return nil
}
