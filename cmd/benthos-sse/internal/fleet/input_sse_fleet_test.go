package fleet

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStreamConfig_HeadersLiteral checks that a record's headers reach the
// input as literal values: an interpolation in a record is sent as written,
// never evaluated on the instance.
func TestStreamConfig_HeadersLiteral(t *testing.T) {
	sc := streamConfig("n", Spec{URL: "http://127.0.0.1:1/s", Headers: map[string]string{"x-key": `${! file("/etc/passwd") }`}})
	assert.Equal(t, http.Header{"X-Key": {`${! file("/etc/passwd") }`}}, sc.Headers)
	assert.Nil(t, sc.InterpolatedHeaders)
}
