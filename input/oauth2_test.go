package input

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	benthossse "github.com/benthos-sse/benthos-sse"
)

// tokenEndpoint issues "t<n>" tokens living expiresIn seconds, or answers
// status with body when status is not 0.
func tokenEndpoint(t *testing.T, expiresIn int, status *atomic.Int32, body string) (*tokenSource, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if s := status.Load(); s != 0 {
			w.WriteHeader(int(s))
			fmt.Fprint(w, body)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("t%d", i), "token_type": "bearer", "expires_in": expiresIn})
	}))
	t.Cleanup(srv.Close)
	return newTokenSource(&benthossse.OAuth2Config{ClientKey: "k", ClientSecret: "s", TokenURL: srv.URL + "/token?key=SECRET"}, srv.Client(), 5*time.Second), &n
}

// TestTokenSource_RefreshMargin: a token is cached, and replaced a quarter
// of its lifetime before it expires, at most 10s before.
func TestTokenSource_RefreshMargin(t *testing.T) {
	for _, tt := range []struct {
		expiresIn int
		margin    time.Duration
	}{{8, 2 * time.Second}, {3600, maxRefreshMargin}} {
		ts, _ := tokenEndpoint(t, tt.expiresIn, &atomic.Int32{}, "")
		tok, err := ts.token(context.Background())
		require.NoError(t, err)
		again, err := ts.token(context.Background())
		require.NoError(t, err)
		assert.Equal(t, tok, again, "cached")
		left := time.Until(ts.refresh)
		want := time.Duration(tt.expiresIn)*time.Second - tt.margin
		assert.InDelta(t, want.Seconds(), left.Seconds(), 1, "refreshed %v before expiry", tt.margin)
	}
}

// TestTokenSource_Refused: a 401 drops the token and allows one immediate
// retry, then none until a request is accepted.
func TestTokenSource_Refused(t *testing.T) {
	ts, n := tokenEndpoint(t, 3600, &atomic.Int32{}, "")
	t1, err := ts.token(context.Background())
	require.NoError(t, err)
	assert.True(t, ts.refused(t1), "the first 401 is retried at once")
	t2, err := ts.token(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, t1, t2, "with a new token")
	assert.False(t, ts.refused(t2), "a second 401 waits for the backoff")
	_, err = ts.token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int32(3), n.Load(), "but the refused token is dropped")
	ts.accepted()
	assert.True(t, ts.refused("other"), "accepted: the next 401 is retried at once again")
}

// TestTokenError: the token endpoint's refusal is described with its status
// and an escaped, bounded excerpt of its answer, without the query of its
// URL.
func TestTokenError(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	ts, _ := tokenEndpoint(t, 60, &status, `{"error":"temporarily_unavailable"}`+"\n\x01"+strings.Repeat("x", 2000))
	_, err := ts.token(context.Background())
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, `answered 503 Service Unavailable; body: {"error":"temporarily_unavailable"}\n\u0001xxx`)
	assert.True(t, strings.HasSuffix(msg, "..."), "cut")
	assert.Less(t, len(msg), 700)
	assert.NotContains(t, msg, "SECRET")
	assert.Contains(t, msg, "key=xxxxx")
}

// TestRetryUnauthorized: a 401 to a request carrying the token is sent
// again at once with a fresh token, body included; a request without the
// token is not retried.
func TestRetryUnauthorized(t *testing.T) {
	ts, _ := tokenEndpoint(t, 3600, &atomic.Int32{}, "")
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Header.Get("Authorization")+"|"+string(b))
		if len(seen) == 1 {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &retryUnauthorized{base: http.DefaultTransport, tokens: ts}}
	tok, err := ts.token(context.Background())
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("prompt"))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"Bearer t1|prompt", "Bearer t2|prompt"}, seen)

	seen = nil
	resp, err = client.Post(srv.URL, "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no token: not retried")
	assert.Len(t, seen, 1)
}
