package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// llmServer behaves like an OpenAI-compatible chat-completions endpoint:
// it streams a reply as chunk events and then the [DONE] sentinel. With
// holdOpen it keeps the connection open after [DONE], so only the sentinel
// can end the input.
type llmServer struct {
	*sseServer
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
	s.sseServer = newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		s.requests = append(s.requests, llmRequest{r.Method, r.Header.Get("Authorization"), r.Header.Get("Accept"), body})
		s.mu.Unlock()
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
			http.Error(w.w, "not found", http.StatusNotFound)
			return
		}
		w.w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		chunk := func(delta map[string]any, finish any) {
			b, _ := json.Marshal(map[string]any{
				"id": "chatcmpl-1", "object": "chat.completion.chunk",
				"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
			})
			w.Write(fmt.Sprintf("data: %s\n\n", b))
		}
		chunk(map[string]any{"role": "assistant"}, nil)
		for _, tok := range tokens {
			chunk(map[string]any{"content": tok}, nil)
		}
		chunk(map[string]any{}, "stop")
		w.Write("data: [DONE]\n\n")
		if holdOpen {
			w.Hold()
		}
	})
	return s
}

func (s *llmServer) got() []llmRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]llmRequest(nil), s.requests...)
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
			res := runBin(t, repoRoot, []string{
				"OPENAI_BASE_URL=" + srv.URL(),
				"OPENAI_API_KEY=sk-test-123",
				"OPENAI_MODEL=tiny-model",
			}, nil, "-c", filepath.Join("resources", "openai.yaml"))
			require.Equal(t, 0, res.code, "stderr:\n%s", res.stderr)
			assert.Equal(t, "Server-Sent Events stream text.", res.stdout)

			reqs := srv.got()
			require.Len(t, reqs, 1, "a one-shot stream is requested once")
			assert.Equal(t, http.MethodPost, reqs[0].Method)
			assert.Equal(t, "Bearer sk-test-123", reqs[0].Auth)
			assert.Equal(t, "text/event-stream", reqs[0].Accept)
			assert.Equal(t, "tiny-model", reqs[0].Body["model"])
			assert.Equal(t, true, reqs[0].Body["stream"])
			assert.NotContains(t, res.stderr, "sk-test-123", "the token never reaches the logs")
		})
	}
}

// TestLLMStream_StreamEndStop checks stream_end: stop on its own: a server
// that ends the body without a sentinel ends the input, without a second
// request.
func TestLLMStream_StreamEndStop(t *testing.T) {
	t.Parallel()
	srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Write("data: one\n\ndata: two\n\n")
	})
	cfg := writeConfigFile(t, "", "oneshot.yaml", `
http: {enabled: false}
input:
  sse:
    url: `+srv.URL()+`
    stream_end: stop
pipeline: {threads: 1}
output:
  stdout: {codec: lines}
logger: {level: warn}
`)
	res := runBin(t, repoRoot, nil, nil, "-c", cfg)
	require.Equal(t, 0, res.code, "stderr:\n%s", res.stderr)
	assert.Equal(t, "one\ntwo\n", res.stdout)
	assert.Len(t, srv.Requests(), 1, "no reconnection after a normal end")
}
