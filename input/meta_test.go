package input

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/sse"
)

// TestEventMeta_ReusedValuesStayCorrect checks that reusing the previous
// event's metadata values never gives an event another event's type or ID.
func TestEventMeta_ReusedValuesStayCorrect(t *testing.T) {
	events := []sse.Event{
		{Type: "message", Data: []byte("a")},
		{Type: "message", Data: []byte("b"), LastEventID: "1", HasID: true},
		{Type: "update", Data: []byte("c"), LastEventID: "1"},
		{Type: "message", Data: []byte("d"), LastEventID: "2", HasID: true},
		{Type: "message", Data: []byte("e"), LastEventID: ""},
	}
	var m eventMeta
	for _, ev := range events {
		msg := m.message(ev)
		body, err := msg.AsBytes()
		require.NoError(t, err)
		assert.Equal(t, string(ev.Data), string(body))
		typ, ok := msg.MetaGet(benthossse.MetaEvent)
		assert.True(t, ok)
		assert.Equal(t, ev.Type, typ, "event %s", ev.Data)
		id, _ := msg.MetaGetMut(benthossse.MetaLastEventID)
		assert.Equal(t, ev.LastEventID, id, "event %s", ev.Data)
	}
}
