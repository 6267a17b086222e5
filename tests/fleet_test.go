package tests

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFleetStreamsEditor runs resources/fleet_streams.yaml, the README's
// benthos-sse way to edit a fleet's stream list: each stdin line becomes a
// record keyed by the stream's name, a line with a name alone an empty
// value, which the fleet treats as a tombstone.
func TestFleetStreamsEditor(t *testing.T) {
	t.Parallel()
	broker := startMemoryKafkaBroker(t, "streams")
	res := runBinStdin(t, "", strings.NewReader("a http://127.0.0.1:1/a\n  b   http://127.0.0.1:1/b \na\n"),
		[]string{"KAFKA_BROKERS=" + broker.addr, "STREAMS_TOPIC=streams"}, nil,
		"run", filepath.Join(repoRoot, "resources", "fleet_streams.yaml"))
	require.Equal(t, 0, res.code, res.output())
	var got []string
	for _, r := range readTopic(t, broker.addr, "streams") {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	assert.Equal(t, []string{`a={"url":"http://127.0.0.1:1/a"}`, `b={"url":"http://127.0.0.1:1/b"}`, "a="}, got)
}
