package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// llmServer behaves like an OpenAI-compatible chat-completions endpoint:
// it streams a reply as chunk events and then the [DONE] sentinel. With
// holdOpen it keeps the connection open after [DONE], so only the sentinel
// can end the input.
type llmServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []llmRequest
}

type llmRequest struct {
	Method, Auth, Accept string
	Body                 map[string]any
}

func newLLMServer(t *testing.T, tokens []string, holdOpen bool) *llmServer {
	t.Helper()
	s := &llmServer{}
	done := make(chan struct{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		s.requests = append(s.requests, llmRequest{r.Method, r.Header.Get("Authorization"), r.Header.Get("Accept"), body})
		s.mu.Unlock()
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		chunk := func(delta map[string]any, finish any) {
			b, _ := json.Marshal(map[string]any{
				"id": "chatcmpl-1", "object": "chat.completion.chunk",
				"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
			})
			fmt.Fprintf(w, "data: %s\n\n", b)
			w.(http.Flusher).Flush()
		}
		chunk(map[string]any{"role": "assistant"}, nil)
		for _, tok := range tokens {
			chunk(map[string]any{"content": tok}, nil)
		}
		chunk(map[string]any{}, "stop")
		fmt.Fprint(w, "data: [DONE]\n\n")
		w.(http.Flusher).Flush()
		if holdOpen {
			select {
			case <-r.Context().Done():
			case <-done:
			}
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(done) })
	return s
}

func (s *llmServer) got() []llmRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]llmRequest(nil), s.requests...)
}

// runBinary runs benthos-sse with args and env in the repository root and
// returns its stdout and stderr, failing the test if it does not exit by
// itself within the bound.
func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "benthos-sse did not exit by itself; stderr:\n%s", errb.String())
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

// TestLLMStream_OpenAIExample runs the shipped resources/openai.yaml through
// the binary against a local server that behaves like the OpenAI API.
func TestLLMStream_OpenAIExample(t *testing.T) {
	t.Parallel()
	tokens := []string{"Server", "-Sent", " Events", " stream", " text", "."}
	for _, holdOpen := range []bool{false, true} {
		t.Run(fmt.Sprintf("connection held open after DONE: %v", holdOpen), func(t *testing.T) {
			t.Parallel()
			srv := newLLMServer(t, tokens, holdOpen)
			stdout, stderr, code := runBinary(t, []string{
				"OPENAI_BASE_URL=" + srv.URL,
				"OPENAI_API_KEY=sk-test-123",
				"OPENAI_MODEL=tiny-model",
			}, "-c", filepath.Join("resources", "openai.yaml"))
			require.Equal(t, 0, code, "stderr:\n%s", stderr)
			assert.Equal(t, "Server-Sent Events stream text.", stdout)

			reqs := srv.got()
			require.Len(t, reqs, 1, "a one-shot stream is requested once")
			assert.Equal(t, http.MethodPost, reqs[0].Method)
			assert.Equal(t, "Bearer sk-test-123", reqs[0].Auth)
			assert.Equal(t, "text/event-stream", reqs[0].Accept)
			assert.Equal(t, "tiny-model", reqs[0].Body["model"])
			assert.Equal(t, true, reqs[0].Body["stream"])
			assert.NotContains(t, stderr, "sk-test-123", "the token never reaches the logs")
		})
	}
}

// TestLLMStream_StreamEndStop checks stream_end: stop on its own: a server
// that ends the body without a sentinel ends the input, without a second
// request.
func TestLLMStream_StreamEndStop(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\ndata: two\n\n")
	}))
	t.Cleanup(srv.Close)
	cfg := filepath.Join(t.TempDir(), "oneshot.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
http: {enabled: false}
input:
  sse:
    url: `+srv.URL+`
    stream_end: stop
pipeline: {threads: 1}
output:
  stdout: {codec: lines}
logger: {level: warn}
`), 0o600))
	stdout, stderr, code := runBinary(t, nil, "-c", cfg)
	require.Equal(t, 0, code, "stderr:\n%s", stderr)
	assert.Equal(t, "one\ntwo\n", stdout)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, n, "no reconnection after a normal end")
}
