package tests

// Credentials that rotate and streams that resume from a cursor, through the
// benthos-sse binary: a token file replaced mid-run, OAuth 2 client
// credentials against a token endpoint of the test's own (short-lived
// tokens, a 401, an endpoint that is down), and resume.cursor across a cut
// and a SIGKILL.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeBinConfig writes a config for the binary to a temporary directory
// and returns its path.
func writeBinConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o644))
	return path
}

// numberedUntil serves events id = data = 1..last, resuming after the
// request's Last-Event-ID, and answers 204 once everything was sent. Before
// sending event i it calls before(i); false ends the response there.
func numberedUntil(w *sseWriter, last int, before func(i int) bool) {
	from := w.ResumeAfter() + 1
	if from > last {
		w.w.WriteHeader(http.StatusNoContent)
		return
	}
	for i := from; i <= last; i++ {
		if before != nil && !before(i) {
			return
		}
		if !w.Event(i, strconv.Itoa(i)) {
			return
		}
	}
}

// rotating serves a stream whose credential rotates: a request whose
// credential (got, after prefix) is not the one accepted gets a 401, and
// the first such refusal writes the new credential to file (the rotation
// reaches the file just after the server); with the accepted one, it
// serves events up to last, and halfway revokes old for next, dropping
// the stream.
func rotating(w *sseWriter, got, prefix string, accepted *atomic.Value, refused *atomic.Int32, file, old, next string, last int) {
	if got != prefix+accepted.Load().(string) {
		if refused.Add(1) == 1 {
			if err := os.WriteFile(file, []byte(next+"\n"), 0o600); err != nil {
				w.Fail("rotating %s: %v", file, err)
			}
		}
		w.w.WriteHeader(http.StatusUnauthorized)
		return
	}
	numberedUntil(w, last, func(i int) bool {
		if i == last/2 && accepted.CompareAndSwap(old, next) {
			return false // the old credential is revoked; the stream drops
		}
		return true
	})
}

// TestCreds_TokenFileRotates runs the binary with bearer_token read from a
// file at every attempt. The file is missing at first: the attempt fails,
// is logged with the reason, and no request is sent. Mid-stream the server
// switches to a new token and drops the stream; the next attempt, still with
// the old token, gets a 401, after which the new token lands in the file:
// the stream goes on after that one failed attempt, with every event exactly
// once, in order, and neither token appears in the log.
func TestCreds_TokenFileRotates(t *testing.T) {
	const last = 60
	tokenFile := filepath.Join(t.TempDir(), "token")
	var accepted atomic.Value
	accepted.Store("token-one-SECRET")
	var refused atomic.Int32
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		rotating(w, r.Header.Get("Authorization"), "Bearer ", &accepted, &refused, tokenFile, "token-one-SECRET", "token-two-SECRET", last)
	})
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	config := writeBinConfig(t, fmt.Sprintf(`
http: {enabled: false}
logger: {level: trace}
input:
  sse:
    url: %q
    bearer_token: '${! file(path: %q, no_cache: true).string().trim() }'
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
output:
  file: {path: %q, codec: lines}
`, srv.URL()+"/events", tokenFile, out))
	p := startBinary(t, config)
	waitOutput(t, p, "no such file or directory")
	assert.Empty(t, srv.Requests(), "no request is sent without the token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("token-one-SECRET\n"), 0o600)) // a trailing newline, as editors leave
	require.Equal(t, 0, p.Wait(waitLimit), "the stream ends with 204; output:\n%s", p.Output())

	assert.Equal(t, seqInts(1, last), readNumbers(t, out), "every event once, in order")
	assert.Equal(t, int32(1), refused.Load(), "one failed attempt at most")
	var auths []string
	for _, r := range srv.Requests() {
		auths = append(auths, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}
	assert.Equal(t, []string{"token-one-SECRET", "token-one-SECRET", "token-two-SECRET", "token-two-SECRET"}, auths,
		"the first stream, the 401, the rest of the stream with the new token, the 204")
	assert.Contains(t, p.Output(), "bearer_token: open "+tokenFile, "the failure names the field and says why")
	assert.NotContains(t, p.Output(), "SECRET", "no token reaches the log, at trace level")
	assert.Contains(t, p.Output(), "answered 401")
}

// TestCreds_StreamHeaderFileRotates is TestCreds_TokenFileRotates for a
// header of one entry of a `streams` list: the entry's header is
// interpolated as the input's are, read from its file at every attempt, so
// the rotated key is used from the next attempt on, while the other stream
// goes on with its own literal header. Neither key reaches the log.
func TestCreds_StreamHeaderFileRotates(t *testing.T) {
	t.Parallel()
	const last = 40
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte("key-one-SECRET\n"), 0o600))
	var accepted atomic.Value
	accepted.Store("key-one-SECRET")
	var refused atomic.Int32
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		if r.URL.Path == "/b" {
			if r.Header.Get("X-Tenant") != "b" {
				w.w.WriteHeader(http.StatusForbidden)
				return
			}
			numberedUntil(w, last, nil)
			return
		}
		rotating(w, r.Header.Get("X-Key"), "", &accepted, &refused, keyFile, "key-one-SECRET", "key-two-SECRET", last)
	})
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	config := writeBinConfig(t, fmt.Sprintf(`
http: {enabled: false}
logger: {level: trace}
input:
  sse:
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
    streams:
      - name: a
        url: %q
        headers:
          X-Key: '${! file(path: %q, no_cache: true).string().trim() }'
      - name: b
        url: %q
        headers: {X-Tenant: b}
`, srv.URL()+"/a", keyFile, srv.URL()+"/b")+streamsOutput(out))
	p := startBinary(t, config)
	require.Equal(t, 0, p.Wait(waitLimit), "both streams end with 204; output:\n%s", clipOutput(p.Output()))

	got := byStream(readStreamLines(t, out))
	assert.Equal(t, seq("", 1, last), got["a"], "every event of a once, in order")
	assert.Equal(t, seq("", 1, last), got["b"], "every event of b once, in order")
	var keys []string
	for _, r := range srv.Requests() {
		if r.Path == "/a" {
			keys = append(keys, r.Header.Get("X-Key"))
		}
	}
	assert.Equal(t, []string{"key-one-SECRET", "key-one-SECRET", "key-two-SECRET", "key-two-SECRET"}, keys,
		"the first stream, the 401, the rest of the stream with the rotated key, the 204")
	assert.NotContains(t, p.Output(), "SECRET", "no key reaches the log, at trace level")
}

// seqInts returns from..to.
func seqInts(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// tokenServer is an OAuth 2 token endpoint: client credentials with HTTP
// basic auth or in the form, tokens "tok-<n>" living lifetime. While down is
// above zero it answers 503 with an explanation instead, counting down.
type tokenServer struct {
	*httptest.Server
	lifetime time.Duration
	down     atomic.Int32

	mu     sync.Mutex
	issued map[string]time.Time // token -> expiry
	times  []time.Time          // of every request
}

func newTokenServer(t *testing.T, lifetime time.Duration) *tokenServer {
	s := &tokenServer{lifetime: lifetime, issued: map[string]time.Time{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.times = append(s.times, time.Now())
		n := len(s.times)
		s.mu.Unlock()
		if s.down.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"temporarily_unavailable","error_description":"the token service\nis down for maintenance"}`)
			return
		}
		// clientcredentials' default, as http_client's, tries HTTP basic
		// auth first, then the client in the form: both are accepted.
		id, secret, ok := r.BasicAuth()
		err := r.ParseForm()
		if !ok {
			id, secret, ok = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), true
		}
		if err != nil || !ok || id != "client-id" || secret != "client-SECRET" || r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("audience") != "sse" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		tok := fmt.Sprintf("tok-%d-SECRET", n)
		s.mu.Lock()
		s.issued[tok] = time.Now().Add(lifetime)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": int(lifetime.Seconds())})
	}))
	t.Cleanup(s.Close)
	return s
}

// valid reports how long the token a request carries has left to live, and
// whether it was issued at all.
func (s *tokenServer) valid(r *http.Request) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.issued[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	return time.Until(exp), ok
}

func (s *tokenServer) requests() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times...)
}

// oauth2YAML is the oauth2 block for ts.
func oauth2YAML(ts *tokenServer) string {
	return fmt.Sprintf(`oauth2: {enabled: true, client_key: client-id, client_secret: client-SECRET, token_url: %q, endpoint_params: {audience: [sse]}}`, ts.URL+"/token")
}

// binSSEConfig is a config for the binary: the sse input of sseYAML, a
// file output, and extra top-level YAML.
func binSSEConfig(t *testing.T, out, top string, input string) string {
	t.Helper()
	return writeBinConfig(t, fmt.Sprintf(`
logger: {level: debug}
%s
input:
  %s
output:
  file: {path: %q, codec: lines}
`, top, strings.ReplaceAll(strings.TrimSpace(input), "\n", "\n  "), out))
}

// TestCreds_OAuth2ShortLivedTokens streams through the binary for about
// four seconds with tokens that live two, reconnecting every few hundred
// milliseconds: no request is refused (no 401 storm), every request carries
// a token with time left (refreshed before it expires), and tokens are
// cached (fewer token requests than connections).
func TestCreds_OAuth2ShortLivedTokens(t *testing.T) {
	const last, perConn = 48, 4
	ts := newTokenServer(t, 2*time.Second)
	var mu sync.Mutex
	var left []time.Duration
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		rem, ok := ts.valid(r)
		mu.Lock()
		left = append(left, rem)
		mu.Unlock()
		if !ok || rem <= 0 {
			w.w.WriteHeader(http.StatusUnauthorized)
			return
		}
		from := w.ResumeAfter() + 1
		numberedUntil(w, last, func(i int) bool {
			if i == from+perConn {
				return false // a new connection every perConn events
			}
			if i > from {
				select {
				case <-time.After(75 * time.Millisecond):
				case <-r.Context().Done():
					return false
				}
			}
			return true
		})
	})
	out := filepath.Join(t.TempDir(), "out.txt")
	p := startBinary(t, binSSEConfig(t, out, "http: {enabled: false}", sseYAML(srv.URL()+"/events", oauth2YAML(ts))))
	require.Equal(t, 0, p.Wait(waitLimit), p.Output())
	assert.Equal(t, seqInts(1, last), readNumbers(t, out))

	conns := len(srv.Requests())
	mu.Lock()
	defer mu.Unlock()
	for i, rem := range left {
		assert.Greater(t, rem, 200*time.Millisecond, "request %d carried a token about to expire (or expired, or unknown)", i+1)
	}
	tokens := len(ts.requests())
	assert.GreaterOrEqual(t, tokens, 2, "the token was refreshed")
	assert.Less(t, tokens, conns/2, "tokens are cached: %d token requests for %d connections", tokens, conns)
	assert.NotContains(t, p.Output(), "SECRET")
	t.Logf("%d connections, %d token requests; time left on each request's token: %v", conns, tokens, left)
}

// TestCreds_OAuth2RefreshOn401 checks the answer to a 401 through the
// binary: one token refresh and one immediate retry (well before the
// backoff's first wait), and against a server that refuses every token, no
// loop: after that one retry every attempt waits reconnect.max_interval.
func TestCreds_OAuth2RefreshOn401(t *testing.T) {
	t.Run("once", func(t *testing.T) {
		ts := newTokenServer(t, time.Hour)
		srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			if n == 1 {
				http.Error(w.w, "token revoked", http.StatusUnauthorized)
				return
			}
			w.Event(1, "1")
			w.Hold()
		})
		out := filepath.Join(t.TempDir(), "out.txt")
		p := startBinary(t, binSSEConfig(t, out, "http: {enabled: false}", fmt.Sprintf(`sse:
  url: %q
  reconnect: {initial_interval: 3s, max_interval: 5s}
  %s`, srv.URL()+"/events", oauth2YAML(ts))))
		reqs := srv.WaitRequests(2)
		waitOutput(t, p, "Connected to")
		p.Signal(os.Interrupt)
		require.Len(t, srv.Requests(), 2)
		assert.Len(t, ts.requests(), 2, "one token, then one refresh")
		assert.NotEqual(t, reqs[0].Header.Get("Authorization"), reqs[1].Header.Get("Authorization"), "the retry carries the new token")
		assert.Less(t, reqs[1].At.Sub(reqs[0].At), time.Second, "retried at once, not after the 3s backoff")
		assert.Equal(t, []int{1}, readNumbers(t, out))
		assert.NotContains(t, p.Output(), "SECRET")
	})
	t.Run("always", func(t *testing.T) {
		ts := newTokenServer(t, time.Hour)
		srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			http.Error(w.w, "no", http.StatusUnauthorized)
		})
		out := filepath.Join(t.TempDir(), "out.txt")
		p := startBinary(t, binSSEConfig(t, out, "http: {enabled: false}", fmt.Sprintf(`sse:
  url: %q
  reconnect: {initial_interval: 100ms, max_interval: 400ms}
  %s`, srv.URL()+"/events", oauth2YAML(ts))))
		reqs := srv.WaitRequests(5)
		p.Signal(os.Interrupt)
		assert.Less(t, reqs[1].At.Sub(reqs[0].At), 300*time.Millisecond, "the first 401 is retried at once")
		for i, g := range gaps(reqs[1:5], func(r request) time.Time { return r.At }) {
			assert.GreaterOrEqual(t, g, 350*time.Millisecond, "attempt %d came %v after the previous one: a 401 loop", i+3, g)
		}
		// Each 401 drops the token it refused: at most one token per attempt.
		assert.LessOrEqual(t, len(ts.requests()), len(srv.Requests()))
	})
}

// TestCreds_TokenEndpointDown: a token endpoint down for three attempts
// (six requests: clientcredentials tries the client in a header, then in
// the form).
// Each failure is a failed attempt: logged with the endpoint's explanation
// (escaped, bounded), counted in sse_reconnects{cause="request"} at
// /metrics, and retried with the backoff; then the stream opens.
func TestCreds_TokenEndpointDown(t *testing.T) {
	ts := newTokenServer(t, time.Hour)
	ts.down.Store(6)
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		if _, ok := ts.valid(r); !ok {
			w.w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Event(1, "1")
		w.Hold()
	})
	addr := freePort(t)
	out := filepath.Join(t.TempDir(), "out.txt")
	p := startBinary(t, binSSEConfig(t, out, fmt.Sprintf("http: {address: %q}\nmetrics: {prometheus: {}}", addr),
		sseYAML(srv.URL()+"/events", oauth2YAML(ts))))
	waitOutput(t, p, "Connected to")
	var samples []promSample
	deadline := time.Now().Add(waitLimit)
	for {
		if body, ok := get(t, "http://"+addr+"/metrics"); ok {
			samples = parsePromText(t, body)
			if len(find(samples, "sse_reconnects")) > 0 {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "no sse_reconnects at /metrics; log:\n%s", p.Output())
		time.Sleep(50 * time.Millisecond) // polling the scrape endpoint
	}
	p.Signal(os.Interrupt)
	var request float64
	for _, s := range find(samples, "sse_reconnects") {
		if s.labels["cause"] == "request" {
			request = s.value
		}
	}
	assert.Equal(t, 3.0, request, `sse_reconnects{cause="request"}`)
	logs := p.Output()
	assert.Contains(t, logs, "answered 503 Service Unavailable; body: {")
	assert.Contains(t, logs, `temporarily_unavailable`)
	assert.Contains(t, logs, `service\\nis down`, "the body's newline is escaped (and logfmt escapes the backslash)")
	assert.NotContains(t, logs, "SECRET")
	times := ts.requests()
	require.Len(t, times, 7)
	attempts := []time.Time{times[0], times[2], times[4], times[6]}
	for i, g := range gaps(attempts, func(t time.Time) time.Time { return t }) {
		assert.GreaterOrEqual(t, g, 90*time.Millisecond, "attempt %d came %v after the previous one", i+2, g)
	}
	assert.Equal(t, []int{1}, readNumbers(t, out))
}

// cursorServer is an API that resumes from a cursor in the payload, as
// OpenAI's background responses do: events carry no id, their data is JSON
// with a sequence_number (0..last), and a request resumes with
// ?starting_after=<n>. Every other event is a heartbeat without one. The
// first connection is cut in the middle of event cutAt; reached receives
// the number of each event once sent when it is killAt.
type cursorServer struct {
	*sseServer
	killAt  atomic.Int64
	reached chan int
}

func newCursorServer(t *testing.T, last, cutAt int) *cursorServer {
	s := &cursorServer{reached: make(chan int, 1)}
	s.killAt.Store(-1)
	s.sseServer = newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		from := 0
		if v := r.URL.Query().Get("starting_after"); v != "" {
			after, err := strconv.Atoi(v)
			if err != nil {
				w.Fail("starting_after %q: %v", v, err)
			}
			from = after + 1
		}
		if r.Header.Get("Last-Event-ID") != "" {
			w.Fail("Last-Event-ID sent in cursor mode")
		}
		if from > last {
			w.w.WriteHeader(http.StatusNoContent)
			return
		}
		ticker := time.NewTicker(time.Millisecond)
		defer ticker.Stop()
		for i := from; i <= last; i++ {
			ev := fmt.Sprintf("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":%d,\"delta\":\"%d\"}\n\n", i, i)
			if n == 1 && i == cutAt {
				w.Write(ev[:len(ev)/2])
				w.Abort()
			}
			if !w.Write(ev + "event: keepalive\ndata: {}\n\n") {
				return
			}
			if int64(i) == s.killAt.Load() {
				select {
				case s.reached <- i:
				default:
				}
			}
			select {
			case <-ticker.C:
			case <-r.Context().Done():
				return
			}
		}
	})
	return s
}

// TestCreds_CursorResume runs a cursor stream through the binary with a
// file-cache checkpoint. Within the first run the server cuts the stream in
// the middle of an event: the reconnection asks for starting_after = the
// last event received, with no gap and no duplicate. The run is then
// SIGKILLed; the next run asks for starting_after = the checkpoint, and
// delivers exactly the events after it: the only duplicates are the events
// written but not yet checkpointed when the first run died.
func TestCreds_CursorResume(t *testing.T) {
	const last, cutAt = 3000, 200
	srv := newCursorServer(t, last, cutAt)
	srv.killAt.Store(1500)
	dir := t.TempDir()
	ckptDir := filepath.Join(dir, "checkpoints")
	require.NoError(t, os.Mkdir(ckptDir, 0o755))
	out := filepath.Join(dir, "out.txt")
	config := writeBinConfig(t, fmt.Sprintf(`
http: {enabled: false}
input:
  sse:
    url: '%s/v1/responses/resp_1?stream=true${! if @sse_cursor != null { "&starting_after=" + @sse_cursor } else { "" } }'
    reconnect: {initial_interval: 50ms, max_interval: 200ms}
    max_batch_size: 16
    exclude_events: [keepalive]
    resume:
      cursor: this.sequence_number
    checkpoint: {cache: ckpt, key: cursor}
pipeline:
  processors:
    - mapping: 'root = this.sequence_number.string() + "\n"'
cache_resources:
  - label: ckpt
    file: {directory: %q}
output:
  file: {path: %q, codec: lines}
`, srv.URL(), ckptDir, out))

	p := startBinary(t, config)
	select {
	case <-srv.reached:
	case <-time.After(waitLimit):
		t.Fatalf("event 1500 was never sent; output:\n%s", p.Output())
	}
	require.Equal(t, -1, p.Signal(syscall.SIGKILL))
	first := readNumbers(t, out)
	reqs := srv.Requests()
	require.Len(t, reqs, 2, "the first connection, cut, and the reconnection")
	assert.Empty(t, reqs[0].Query.Get("starting_after"), "no cursor yet")
	assert.Equal(t, strconv.Itoa(cutAt-1), reqs[1].Query.Get("starting_after"), "the reconnection resumes after the last event received")
	require.NotEmpty(t, first)
	assert.Equal(t, seqInts(0, len(first)-1), first, "no gap and no duplicate across the cut")
	ckpt, ok := readCheckpoint(t, ckptDir, "cursor")
	require.True(t, ok, "a checkpoint was written")
	ck, err := strconv.Atoi(ckpt)
	require.NoError(t, err, "the checkpoint holds the cursor")
	require.LessOrEqual(t, ck, first[len(first)-1], "the checkpoint never passes the output")

	p = startBinary(t, config)
	require.Equal(t, 0, p.Wait(waitLimit), "the stream ends with 204; output:\n%s", p.Output())
	reqs = srv.Requests()
	assert.Equal(t, ckpt, reqs[2].Query.Get("starting_after"), "the restart resumes after the checkpoint")
	all := readNumbers(t, out)
	second := all[len(first):]
	assert.Equal(t, seqInts(ck+1, last), second, "the restart delivers exactly the events after the checkpoint")
	dups := len(all) - (last + 1)
	assert.Equal(t, first[len(first)-1]-ck, dups, "the duplicates are the events written but not checkpointed at the kill")
	final, _ := readCheckpoint(t, ckptDir, "cursor")
	assert.Equal(t, strconv.Itoa(last), final)
	t.Logf("killed after writing %d events, checkpoint %d: %d duplicates", len(first), ck, dups)
}

// TestCreds_OpenAIResumeExample runs the shipped resources/openai_resume.yaml
// through the binary against a server that resumes like OpenAI's background
// responses and cuts the first connection mid-event: the reply is printed
// whole, in order, once; the reconnection asks for starting_after = the last
// event received; the key is read from its file; and the stream's end ends
// the run.
func TestCreds_OpenAIResumeExample(t *testing.T) {
	const last, cutAt = 20, 8
	srv := newCursorServer(t, last, cutAt)
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "checkpoints"), 0o755))
	keyFile := filepath.Join(dir, "openai.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("sk-SECRET\n"), 0o600))
	res := runBin(t, dir, []string{
		"OPENAI_BASE_URL=" + srv.URL(),
		"RESPONSE_ID=resp_1",
		"OPENAI_API_KEY_FILE=" + keyFile,
	}, nil, "-c", filepath.Join(repoRoot, "resources", "openai_resume.yaml"))
	require.Equal(t, 0, res.code, "stderr:\n%s", res.output())
	var want strings.Builder
	for i := 0; i <= last; i++ {
		want.WriteString(strconv.Itoa(i))
	}
	assert.Equal(t, want.String(), res.stdout)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/v1/responses/resp_1", reqs[0].Path)
	assert.Empty(t, reqs[0].Query.Get("starting_after"))
	assert.Equal(t, strconv.Itoa(cutAt-1), reqs[1].Query.Get("starting_after"))
	for _, r := range reqs {
		assert.Equal(t, "Bearer sk-SECRET", r.Header.Get("Authorization"))
	}
	ckpt, ok := readCheckpoint(t, filepath.Join(dir, "checkpoints"), "openai_resp_1")
	assert.True(t, ok)
	assert.Equal(t, strconv.Itoa(last), ckpt, "the checkpoint holds the last cursor")
	assert.NotContains(t, res.output(), "SECRET")
}

// TestCreds_LintInterpolations: a malformed interpolation in url, headers
// or bearer_token fails lint at its line and column, and `run --chilled`,
// which skips lint, refuses it naming the field.
func TestCreds_LintInterpolations(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(`input:
  sse:
    url: 'http://127.0.0.1:1/events?after=${! @sse_cursor.or( }'
    headers:
      X-Key: '${! file(path: "/x", no_cache: true).string( }'
    bearer_token: '${! env("T" }'
output:
  drop: {}
`), 0o644))
	res := runBin(t, dir, nil, nil, "lint", "bad.yaml")
	assert.Equal(t, 1, res.code)
	for _, line := range []string{"bad.yaml(3,", "bad.yaml(5,", "bad.yaml(6,"} {
		assert.Contains(t, res.output(), line, "a lint at the malformed interpolation's line")
	}
	res = runBin(t, dir, nil, nil, "run", "--chilled", "bad.yaml")
	assert.Contains(t, res.output(), `field "url": failed to parse interpolated field`)

	// A header of a streams entry is interpolated too.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "streams.yaml"), []byte(`input:
  sse:
    streams:
      - url: http://127.0.0.1:1/a
        headers:
          X-Key: '${! file(path: "/x", no_cache: true).string( }'
output:
  drop: {}
`), 0o644))
	res = runBin(t, dir, nil, nil, "lint", "streams.yaml")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.output(), "streams.yaml(6,", "a lint at the malformed interpolation's line")
	res = runBin(t, dir, nil, nil, "run", "--chilled", "streams.yaml")
	assert.Contains(t, res.output(), `field "streams.0.headers": failed to parse interpolated field`)
}
