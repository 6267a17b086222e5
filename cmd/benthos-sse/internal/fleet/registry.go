package fleet

import (
	"fmt"
	"strings"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// The process-level registry couples the fleet input with the transactional
// output of the same binary: each message carries its lease as
// "<id>@<group>", and the output finds the Reader of that group here.
var registry = struct {
	mu      sync.Mutex
	readers map[string]*Reader
}{readers: map[string]*Reader{}}

// Register makes r the fleet of its group in this process, until the
// returned function is called. Two fleet inputs of one group in one process
// are refused: they would be two members holding each other's leases.
func Register(r *Reader) (unregister func(), err error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if _, dup := registry.readers[r.cfg.Group]; dup {
		return nil, fmt.Errorf("fleet: group %q already has a fleet input in this process", r.cfg.Group)
	}
	registry.readers[r.cfg.Group] = r
	return func() {
		registry.mu.Lock()
		defer registry.mu.Unlock()
		if registry.readers[r.cfg.Group] == r {
			delete(registry.readers, r.cfg.Group)
		}
	}, nil
}

// Tag sets the lease metadata of a message of stream name, read now; a
// stream that is no longer this instance's gets lease 0, which never holds.
func (r *Reader) Tag(m *service.Message, name string) {
	l, _ := r.Lease(name)
	m.MetaSetMut(LeaseMeta, l.String()+"@"+r.cfg.Group)
}

// Fenced is a batch split by the leases its messages were read under.
type Fenced struct {
	// Reader is the fleet the batch came from; nil for a batch with no
	// lease metadata (not from a fleet), which is written as it is.
	Reader *Reader
	// Live are the indexes of the messages to write, Leases their leases.
	Live   []int
	Leases []Lease
	// Stale are the indexes of messages read under a lease that has ended:
	// the output acknowledges them without writing them. The stream's
	// current owner reads them again from the committed resume point.
	Stale []int
}

// Split sorts a batch's messages by lease. It fails when a message names a
// group with no fleet in this process, or the batch mixes groups.
func Split(batch service.MessageBatch) (Fenced, error) {
	var f Fenced
	seen := map[Lease]bool{}
	for i, m := range batch {
		v, ok := m.MetaGetMut(LeaseMeta)
		if !ok {
			if f.Reader != nil {
				return Fenced{}, fmt.Errorf("fleet: message %d has no %s, others do", i, LeaseMeta)
			}
			f.Live = append(f.Live, i)
			continue
		}
		s, _ := v.(string)
		id, group, ok := strings.Cut(s, "@")
		if !ok {
			return Fenced{}, fmt.Errorf("fleet: message %d: %s %q is not <lease>@<group>", i, LeaseMeta, s)
		}
		if f.Reader == nil {
			if i > 0 {
				return Fenced{}, fmt.Errorf("fleet: message %d has %s, earlier ones do not", i, LeaseMeta)
			}
			registry.mu.Lock()
			f.Reader = registry.readers[group]
			registry.mu.Unlock()
			if f.Reader == nil {
				return Fenced{}, fmt.Errorf("fleet: message %d was read by fleet group %q, which has no fleet input in this process", i, group)
			}
		} else if group != f.Reader.cfg.Group {
			return Fenced{}, fmt.Errorf("fleet: the batch mixes fleet groups %q and %q", f.Reader.cfg.Group, group)
		}
		stream, _ := m.MetaGet("sse_stream")
		l, err := ParseLease(stream, id)
		if err != nil {
			return Fenced{}, fmt.Errorf("fleet: message %d: %w", i, err)
		}
		if cur, ok := f.Reader.Lease(stream); !ok || cur != l {
			f.Stale = append(f.Stale, i)
			continue
		}
		f.Live = append(f.Live, i)
		if !seen[l] {
			seen[l] = true
			f.Leases = append(f.Leases, l)
		}
	}
	return f, nil
}
