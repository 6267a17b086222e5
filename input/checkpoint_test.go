package input

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/benthos-sse/benthos-sse/sse"
)

// FuzzDecodeCheckpoint feeds arbitrary cache values to the checkpoint
// decoder. Beyond not panicking: a value it accepts is within
// maxCheckpointSize and encodes back to exactly the same bytes (so there is
// one spelling of each checkpoint, and a torn or edited value is never
// read as another), and every encoded checkpoint decodes to what was
// encoded.
func FuzzDecodeCheckpoint(f *testing.F) {
	for _, seed := range [][]byte{
		encodeCheckpoint(0, ""),
		encodeCheckpoint(7, "42"),
		encodeCheckpoint(math.MaxUint64, "with spaces in it"),
		encodeCheckpoint(3, "üñí\u00a0code"),
		encodeCheckpoint(4, "2\x01x"),
		[]byte("sse-checkpoint/1 9 00000000 event-123"),
		[]byte("sse-checkpoint/1 007 " + string(encodeCheckpoint(7, "a")[len("sse-checkpoint/1 7 "):])),
		[]byte("sse-checkpoint/1 18446744073709551616 00000000 x"),
		[]byte("sse-checkpoint/1 +1 00000000 "),
		[]byte(""),
		[]byte("garbage"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		gen, id, ok := decodeCheckpoint(v)
		if ok {
			if len(v) > maxCheckpointSize {
				t.Fatalf("accepted a %d-byte value, over %d", len(v), maxCheckpointSize)
			}
			if re := encodeCheckpoint(gen, id); !bytes.Equal(re, v) {
				t.Fatalf("decoded %q as (%d, %q), which encodes as %q", v, gen, id, re)
			}
		}
		// Any ID the fuzzer makes up round-trips, as long as it fits.
		if id := string(v); len(id) <= maxCheckpointSize-64 {
			g, got, ok := decodeCheckpoint(encodeCheckpoint(uint64(len(v))*0x9e3779b97f4a7c15, id))
			if !ok || got != id || g != uint64(len(v))*0x9e3779b97f4a7c15 {
				t.Fatalf("encode/decode of %q gave (%d, %q, %v)", id, g, got, ok)
			}
		}
	})
}

func TestCheckpoint_DecodeRejects(t *testing.T) {
	valid := encodeCheckpoint(7, "a")
	tests := []struct {
		name string
		v    []byte
	}{
		{"over the size bound", encodeCheckpoint(1, strings.Repeat("x", maxCheckpointSize))},
		{"leading zeros in the generation", bytes.Replace(valid, []byte(" 7 "), []byte(" 007 "), 1)},
		{"upper-case checksum", bytes.ToUpper(valid)},
		{"generation over 2^64-1", []byte("sse-checkpoint/1 18446744073709551616 e8b7be43 a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, ok := decodeCheckpoint(tt.v)
			assert.False(t, ok, "%.80q", tt.v)
		})
	}
	_, _, ok := decodeCheckpoint(encodeCheckpoint(1, strings.Repeat("x", sse.MaxIDLength)))
	assert.True(t, ok, "an ID of the longest sendable length fits")
}

// storeWith returns a checkpoint store over a memory cache holding values.
func storeWith(t *testing.T, values map[string][]byte) *checkpointStore {
	t.Helper()
	res := service.MockResources(service.MockResourcesOptAddCache("ck"))
	ctx := context.Background()
	for k, v := range values {
		require.NoError(t, res.AccessCache(ctx, "ck", func(c service.Cache) {
			require.NoError(t, c.Set(ctx, k, v, nil))
		}))
	}
	return &checkpointStore{res: res, cache: "ck", key: "k"}
}

// TestCheckpoint_GenerationWraps starts at generation 2^64-1: the write
// after it (generation 0, in the other slot) must win over it, and keep
// winning, rather than the stale copy winning forever.
func TestCheckpoint_GenerationWraps(t *testing.T) {
	ctx := context.Background()
	s := storeWith(t, map[string][]byte{"k.a": encodeCheckpoint(math.MaxUint64-1, "old")})
	require.NoError(t, s.save(ctx, math.MaxUint64, "stale"))
	for i, id := range []string{"new0", "new1", "new2"} {
		gen, _, _, _, _, err := s.load(ctx)
		require.NoError(t, err)
		require.NoError(t, s.save(ctx, gen+1, id))
		_, got, ok, _, _, err := s.load(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, id, got, "write %d after the wrap", i)
	}
}

// TestCheckpoint_UnsendableIgnored holds a checkpoint whose ID cannot be
// sent as a header (a hand-written or old value): it is reported and
// skipped, and the other slot's checkpoint is used.
func TestCheckpoint_UnsendableIgnored(t *testing.T) {
	ctx := context.Background()
	s := storeWith(t, map[string][]byte{
		"k.a": encodeCheckpoint(4, "4"),
		"k.b": encodeCheckpoint(5, "5\x01x"),
	})
	gen, id, ok, invalid, unsendable, err := s.load(ctx)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, uint64(4), gen)
	assert.Equal(t, "4", id)
	assert.Empty(t, invalid)
	assert.Equal(t, []string{"k.b"}, unsendable)

	s = storeWith(t, map[string][]byte{"k.b": encodeCheckpoint(1, strings.Repeat("x", sse.MaxIDLength+1))})
	_, _, ok, _, unsendable, err = s.load(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "an over-long ID is not resumed from")
	assert.Equal(t, []string{"k.b"}, unsendable)
}

func TestLogText(t *testing.T) {
	long := strings.Repeat("é", 1000) // 2000 bytes
	tests := []struct {
		name, got, want string
	}{
		{"short text unchanged", logText("abc"), "abc"},
		{"long text cut with its length", logText(long), strings.Repeat("é", maxLogText/2) + "...(2000 bytes)"},
		{"id quoted", logID("2\x01x"), `"2\x01x"`},
		{"query values redacted", logURL("http://u:pw@h:1/p?api_key=s3cret&x=1#f"), "http://u:xxxxx@h:1/p?api_key=xxxxx&x=xxxxx#f"},
		{"query values in an error", logErr(errString(`Get "http://h/p?token=abc": EOF`)), `Get "http://h/p?token=xxxxx": EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
	assert.LessOrEqual(t, len(logErr(errString(strings.Repeat("x", 1<<20)))), maxLogErr+32)

	cause := fmt.Errorf("get http://h/p?key=k-SECRET&%s: %w", strings.Repeat("x", 1<<20), context.DeadlineExceeded)
	bounded := boundErr(cause)
	assert.ErrorIs(t, bounded, context.DeadlineExceeded, "the chain is kept")
	assert.LessOrEqual(t, len(bounded.Error()), maxLogErr+32)
	assert.NotContains(t, bounded.Error(), "k-SECRET")
}

type errString string

func (e errString) Error() string { return string(e) }

// TestDeduper_CopiesIDs checks that the window keeps a copy of each ID,
// not the event's string, which points into the event's block; and that
// seeding marks the resume point as delivered.
func TestDeduper_CopiesIDs(t *testing.T) {
	block := []byte("data-data-data-id-7")
	id := string(block[len(block)-4:])
	d := newDeduper("window", 4)
	assert.False(t, d.seen(sseEvent(id, true)))
	for k := range d.set {
		assert.NotSame(t, unsafeData(id), unsafeData(k), "the window holds the event's own string")
	}
	m := newDeduper("monotonic", 0)
	m.seed("5")
	assert.True(t, m.seen(sseEvent("5", true)), "the resume point is a replay")
	assert.False(t, m.seen(sseEvent("6", true)))
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }

// TestCheckpoint_HugeValueNotCopied decodes a 64 MiB checkpoint-shaped
// garbage value: it is rejected by its size without a single allocation
// (the decoder used to copy it to a string, then its ID to a byte slice).
func TestCheckpoint_HugeValueNotCopied(t *testing.T) {
	v := append([]byte("sse-checkpoint/1 1 00000000 "), bytes.Repeat([]byte("g"), 64<<20)...)
	allocs := testing.AllocsPerRun(5, func() {
		if _, _, ok := decodeCheckpoint(v); ok {
			t.Fatal("accepted")
		}
	})
	assert.Zero(t, allocs, "allocations to reject a 64 MiB value")
}
