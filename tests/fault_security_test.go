package tests

// Security: TLS verification, credentials on redirects, secrets in logs,
// URL schemes, and hostile servers.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSecurity_TLSVerification serves the stream over TLS with a
// self-signed certificate. By default, and with tls.enabled alone, the
// certificate is verified: every attempt fails with a clear error that is
// logged, and no request reaches the server. With tls.root_cas_file set to
// the server's CA, the stream works.
func TestSecurity_TLSVerification(t *testing.T) {
	noLeaks(t)
	srv := newTLSSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Event(1, "secure")
		w.Hold()
	})
	caFile := srv.CAFile()

	for _, tt := range []struct{ name, tls string }{
		{"default", ""},
		{"enabled without a CA", "tls: {enabled: true}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := runInput(t, runOpts{Input: sseYAML(srv.URL()+"/events", tt.tls)})
			fails := h.Logs.WaitFor(t, 2, "Failed to connect to sse: ", "certificate signed by unknown authority")
			h.Stop()
			assert.Zero(t, h.Count())
			assert.Empty(t, srv.Requests(), "no request may pass an unverified handshake")
			t.Logf("%s: %s", tt.name, fails[0].Msg)
		})
	}
	t.Run("root_cas_file", func(t *testing.T) {
		h := runInput(t, runOpts{Input: sseYAML(srv.URL()+"/events", fmt.Sprintf("tls: {enabled: true, root_cas_file: %q}", caFile))})
		evs := h.WaitEvents(1)
		h.Stop()
		assert.Equal(t, []string{"secure"}, datas(evs))
		assert.Empty(t, h.Logs.Matching("certificate"))
	})
}

// TestSecurity_NoCredentialsAcrossOrigins redirects the stream from
// 127.0.0.1 to another origin: the credentials the input was configured
// with (bearer_token, basic_auth, and secret headers) reach the origin but
// not the redirect target. A same-origin redirect keeps them.
func TestSecurity_NoCredentialsAcrossOrigins(t *testing.T) {
	noLeaks(t)
	target := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
		w.Event(1, "moved")
		w.Hold()
	})
	_, port, _ := strings.Cut(target.Addr(), ":")
	creds := []struct{ name, yaml, header string }{
		{"bearer_token", `bearer_token: "tok-SECRET"`, "Authorization"},
		{"basic_auth", `basic_auth: {enabled: true, username: u, password: "pw-SECRET"}`, "Authorization"},
		{"headers", `headers: {X-Api-Key: "key-SECRET", Cookie: "session=cookie-SECRET"}`, "X-Api-Key"},
		// Evaluated at each attempt: dropped by name, whatever the value.
		{"interpolated headers", `headers: {X-Api-Key: '${! "key-" + "SECRET" }'}`, "X-Api-Key"},
		{"interpolated bearer_token", `bearer_token: '${! "tok-" + "SECRET" }'`, "Authorization"},
	}
	for _, dest := range []struct {
		name, url  string
		sameOrigin bool
	}{
		{"another host (localhost)", "http://localhost:" + port + "/events", false},
		{"another port", "http://127.0.0.1:" + port + "/events", false},
		{"same origin", "/same", true},
	} {
		for _, c := range creds {
			t.Run(dest.name+"/"+c.name, func(t *testing.T) {
				before := len(target.Requests())
				origin := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
					if r.URL.Path == "/events" {
						http.Redirect(w.w, r, dest.url, http.StatusTemporaryRedirect)
						return
					}
					w.Event(1, "same")
					w.Hold()
				})
				h := runInput(t, runOpts{Input: sseYAML(origin.URL()+"/events", c.yaml)})
				h.WaitEvents(1)
				h.Stop()

				first := origin.Requests()[0]
				require.NotEmpty(t, first.Header.Get(c.header), "the origin gets %s", c.header)
				var final request
				if dest.sameOrigin {
					final = origin.Requests()[1]
					assert.Equal(t, "/same", final.Path)
					assert.Equal(t, first.Header.Get(c.header), final.Header.Get(c.header), "kept on a same-origin redirect")
					return
				}
				reqs := target.Requests()
				require.Greater(t, len(reqs), before, "the redirect was followed")
				final = reqs[before]
				for _, hdr := range []string{"Authorization", "X-Api-Key", "Cookie"} {
					assert.Empty(t, final.Header.Get(hdr), "%s forwarded to %s", hdr, dest.url)
				}
			})
		}
	}
}

// TestSecurity_SecretsNotLogged runs the input with every kind of secret
// (bearer_token, basic_auth password, header values, a password in the
// URL) at trace level through failures, a cross-origin redirect, events and
// reconnections, in process and through the binary: no secret appears in
// any log line, and the URL's password is never sent.
func TestSecurity_SecretsNotLogged(t *testing.T) {
	noLeaks(t)
	// Each run gets its own servers: a 401, a redirect to another origin
	// that answers 503, a stream that ends, and one that stays open.
	servers := func(t *testing.T) (*sseServer, string) {
		other := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			w.w.WriteHeader(http.StatusServiceUnavailable)
		})
		srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			switch n {
			case 1:
				w.w.WriteHeader(http.StatusUnauthorized)
			case 2:
				http.Redirect(w.w, r, other.URL()+"/elsewhere", http.StatusFound)
			case 3:
				w.Event(1, "e1")
			default:
				w.Event(n, "e")
				w.Hold()
			}
		})
		return srv, strings.Replace(srv.URL(), "http://", "http://user:url-SECRET@", 1) + "/events"
	}
	header := `headers: {X-Api-Key: "hdr-SECRET"}`
	for _, auth := range []string{`bearer_token: "bearer-SECRET"`, `basic_auth: {enabled: true, username: u, password: "basic-SECRET"}`} {
		name, _, _ := strings.Cut(auth, ":")
		t.Run("in process/"+name, func(t *testing.T) {
			srv, url := servers(t)
			h := runInput(t, runOpts{Input: sseYAML(url, header, auth)})
			h.WaitEvents(2)
			h.Stop()
			logs := h.Logs.All()
			assert.NotContains(t, logs, "SECRET")
			assert.Contains(t, logs, "answered 401", "the failures were logged")
			assert.Contains(t, logs, "answered 503")
			checkNoURLPassword(t, srv)
		})
	}
	t.Run("binary", func(t *testing.T) {
		srv, url := servers(t)
		config := writeConfigFile(t, "", "secrets.yaml", fmt.Sprintf(`
http: {enabled: false}
logger: {level: trace}
input:
  %s
output:
  drop: {}
`, strings.ReplaceAll(sseYAML(url, header, `bearer_token: "bearer-SECRET"`), "\n", "\n  ")))
		p := startBinary(t, config)
		srv.WaitRequests(4)
		p.Signal(os.Interrupt)
		logs := p.Output()
		assert.NotContains(t, logs, "SECRET")
		assert.Contains(t, logs, "answered 401")
		checkNoURLPassword(t, srv)
	})
}

// checkNoURLPassword checks that no request carried the URL's user info.
func checkNoURLPassword(t *testing.T, srv *sseServer) {
	t.Helper()
	for _, r := range srv.Requests() {
		for _, v := range r.Header.Values("Authorization") {
			assert.NotContains(t, v, base64.StdEncoding.EncodeToString([]byte("user:url-SECRET")))
		}
	}
}

// TestSecurity_OnlyHTTPURLs rejects any URL that is not http or https, at
// lint time and, with linting off, when the input is built; and a redirect
// to another scheme is not followed.
func TestSecurity_OnlyHTTPURLs(t *testing.T) {
	noLeaks(t)
	for _, u := range []string{"ftp://127.0.0.1/events", "file:///etc/passwd", "ws://127.0.0.1/events", "javascript:alert(1)", "127.0.0.1:8080/events", "gopher://127.0.0.1:70/"} {
		t.Run(u, func(t *testing.T) {
			b := faultEnv().NewStreamBuilder()
			err := b.AddInputYAML(fmt.Sprintf("sse:\n  url: %q\n", u))
			var lint service.LintError
			require.True(t, errors.As(err, &lint), "lint error for %s, got %v", u, err)
			assert.Contains(t, err.Error(), "url")

			b = faultEnv().NewStreamBuilder()
			b.DisableLinting()
			require.NoError(t, b.AddInputYAML(fmt.Sprintf("sse:\n  url: %q\n", u)))
			require.NoError(t, b.AddOutputYAML("drop: {}"))
			strm, err := b.Build()
			if err == nil {
				// Components are built when the stream runs.
				ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
				defer cancel()
				err = strm.Run(ctx)
			}
			require.Error(t, err, "an input for %s must not start", u)
			assert.Contains(t, err.Error(), `"url"`)
		})
	}
	t.Run("redirect to file://", func(t *testing.T) {
		srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			http.Redirect(w.w, r, "file:///etc/passwd", http.StatusFound)
		})
		h := runInput(t, runOpts{Input: sseYAML(srv.URL() + "/events")})
		fails := h.Logs.WaitFor(t, 2, "Failed to connect to sse: ", "unsupported protocol scheme")
		h.Stop()
		assert.Zero(t, h.Count())
		t.Logf("%s", fails[0].Msg)
	})
}

// TestSecurity_HostileServer sends 64 MiB with no line break, an event of
// 64 MiB of short data lines, and (with the default max_event_size of
// 8 MiB) another endless line: each is skipped and counted, the stream goes
// on, and the heap stays bounded. A huge retry cannot stall reconnection
// beyond max_interval.
func TestSecurity_HostileServer(t *testing.T) {
	noLeaks(t)
	chunk := strings.Repeat("z", 64<<10)
	lines := strings.Repeat("data: z\n", 8<<10)
	for _, tt := range []struct {
		name, limit, prefix, unit string
		size                      int
	}{
		{"endless line", "max_event_size: 1048576", "data: ", chunk, 64 * mib},
		// Millions of 8-byte lines are slow to parse under -race.
		{"endless event", "max_event_size: 1048576", "", lines, 16 * mib},
		{"endless line, default limit", "", "data: ", chunk, 64 * mib},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
				w.Event(1, "before")
				if !w.Write(tt.prefix) {
					return
				}
				for sent := 0; sent < tt.size; sent += len(tt.unit) {
					if !w.Write(tt.unit) {
						return
					}
				}
				w.Write("\n\n")
				w.Event(2, "after")
				w.Hold()
			})
			heap := sampleHeap(5 * time.Millisecond)
			h := runInput(t, runOpts{Input: sseYAML(srv.URL()+"/events", tt.limit), Metrics: true})
			evs := h.WaitEvents(2)
			peak := heap.Stop()
			h.Stop()
			assert.Equal(t, []string{"before", "after"}, datas(evs))
			assert.Equal(t, int64(1), h.Metrics.Get("sse_events_oversized"))
			assert.Less(t, peak, uint64(64*mib), "peak HeapInuse")
			t.Logf("%s: %d MiB hostile payload; peak HeapInuse %.1f MiB", tt.name, tt.size/mib, float64(peak)/mib)
		})
	}
	t.Run("huge retry", func(t *testing.T) {
		var mu sync.Mutex
		var ended time.Time
		srv := newSSEServer(t, func(w *sseWriter, r *http.Request, n int) {
			if n == 1 {
				w.Write("retry: 999999999999\nid: 1\ndata: a\n\n")
				mu.Lock()
				ended = time.Now()
				mu.Unlock()
				return
			}
			w.Event(2, "b")
			w.Hold()
		})
		h := runInput(t, runOpts{Input: sseYAML(srv.URL() + "/events")})
		reqs := srv.WaitRequests(2)
		h.WaitEvents(2)
		h.Stop()
		mu.Lock()
		wait := reqs[1].At.Sub(ended)
		mu.Unlock()
		assert.Less(t, wait, time.Second, "a server's retry is capped by max_interval (200ms)")
		t.Logf("retry: 999999999999 → reconnected after %v", wait.Round(time.Millisecond))
	})
}
