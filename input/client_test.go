package input

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestClient_SmallBuffersCarryLargeHeadersAndEvents checks that the
// transport's small read and write buffers (1 KiB, kept per connection for
// its whole life) limit nothing: a request header, a response header and
// events each several times their size go through intact.
func TestClient_SmallBuffersCarryLargeHeadersAndEvents(t *testing.T) {
	token := strings.Repeat("t", 8<<10)
	big := strings.Repeat("h", 8<<10)
	data := strings.Repeat("d", 64<<10)
	gotToken := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case gotToken <- strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "):
		default:
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Big", big)
		fmt.Fprintf(w, "id: 1\ndata: %s\n\nid: 2\ndata: small\n\n", data)
	}))
	t.Cleanup(srv.Close)

	c := newCollector()
	st := startStream(t, fmt.Sprintf(`sse:
  url: %s
  bearer_token: %s
  stream_end: stop
`, srv.URL, token), "", c)
	assert.NoError(t, st.wait(t))
	assert.Equal(t, []string{"message|1|" + data, "message|2|small"}, c.snapshot())
	assert.Equal(t, token, <-gotToken)
}
