package input

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/internal/ssetest"
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
	srv := ssetest.NewServer(t, func(w *ssetest.Writer, r *http.Request, _ int) {
		select {
		case gotToken <- strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "):
		default:
		}
		w.ResponseWriter().Header().Set("X-Big", big)
		w.Write(fmt.Sprintf("id: 1\ndata: %s\n\nid: 2\ndata: small\n\n", data))
	})

	c := newCollector()
	st := startStream(t, fmt.Sprintf(`sse:
  url: %s
  bearer_token: %s
  stream_end: stop
`, srv.URL(), token), "", c)
	assert.NoError(t, st.wait(t))
	assert.Equal(t, []string{"message|1|" + data, "message|2|small"}, c.snapshot())
	assert.Equal(t, token, <-gotToken)
}

// TestClient_TransportsShared checks that inputs with the same settings
// share one transport, and that a custom TLS or proxy configuration, or
// another timeout, gets its own.
func TestClient_TransportsShared(t *testing.T) {
	proxy, err := url.Parse("http://127.0.0.1:3128")
	require.NoError(t, err)
	tr := func(c benthossse.Config) http.RoundTripper { return newHTTPClient(&c, nil).Transport }
	key, err := service.NewInterpolatedString("k")
	require.NoError(t, err)
	a := tr(benthossse.Config{Timeout: 7 * time.Second})
	assert.Same(t, a, tr(benthossse.Config{Timeout: 7 * time.Second, Headers: map[string]*service.InterpolatedString{"X-Key": key}}))
	assert.NotSame(t, a, tr(benthossse.Config{Timeout: 8 * time.Second}))
	assert.NotSame(t, a, tr(benthossse.Config{Timeout: 7 * time.Second, ProxyURL: proxy}))
	assert.NotSame(t, a, tr(benthossse.Config{Timeout: 7 * time.Second, TLS: &tls.Config{}}))
}
