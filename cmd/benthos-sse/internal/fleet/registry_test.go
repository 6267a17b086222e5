package fleet

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func msg(stream string) *service.Message {
	m := service.NewMessage([]byte("x"))
	m.MetaSetMut("sse_stream", stream)
	return m
}

func TestSplit(t *testing.T) {
	r := &Reader{cfg: Config{Group: "g"}, leases: leases{m: map[string]uint64{}}}
	unregister, err := Register(r)
	require.NoError(t, err)
	defer unregister()
	_, err = Register(&Reader{cfg: Config{Group: "g"}})
	require.Error(t, err, "a second fleet of one group")

	r.leases.grant("a", 0)
	r.leases.grant("b", 0)
	a1, b1, gone := msg("a"), msg("b"), msg("gone")
	r.Tag(a1, "a")
	r.Tag(b1, "b")
	r.Tag(gone, "gone") // not this instance's: lease 0
	a2 := msg("a")
	r.Tag(a2, "a")
	r.leases.grant("b", 0) // b moved away and came back: b1's lease ended
	b2 := msg("b")
	r.Tag(b2, "b")

	f, err := Split(service.MessageBatch{a1, b1, gone, a2, b2})
	require.NoError(t, err)
	assert.Same(t, r, f.Reader)
	assert.Equal(t, []int{0, 3, 4}, f.Live)
	assert.Equal(t, []int{1, 2}, f.Stale)
	la, _ := r.Lease("a")
	lb, _ := r.Lease("b")
	assert.Equal(t, []Lease{la, lb}, f.Leases)

	// Not from a fleet: written as it is.
	f, err = Split(service.MessageBatch{msg("a"), msg("b")})
	require.NoError(t, err)
	assert.Nil(t, f.Reader)
	assert.Equal(t, []int{0, 1}, f.Live)

	for name, batch := range map[string]service.MessageBatch{
		"mixed":         {a1, msg("a")},
		"mixed, first":  {msg("a"), a1},
		"unknown group": {func() *service.Message { m := msg("a"); m.MetaSetMut(LeaseMeta, "1@other"); return m }()},
		"bad lease":     {func() *service.Message { m := msg("a"); m.MetaSetMut(LeaseMeta, "x@g"); return m }()},
	} {
		_, err := Split(batch)
		assert.Error(t, err, name)
	}
}
