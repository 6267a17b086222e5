package input

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	benthossse "github.com/benthos-sse/benthos-sse"
)

// newHTTPClient builds the client that makes every request: the
// EventSource `fetcher`, configured from YAML. Its Timeout stays zero,
// because it would also cut off a long-lived stream; timeout bounds the
// dial, the TLS handshake and the wait for response headers instead.
//
// The headers a redirect to another origin drops are named by the config,
// so the policy holds for values evaluated at each attempt as for static
// ones; extra names a stream's own headers, and body is the stream's. With
// oauth2, a 401 to a request carrying the token is retried once with a
// fresh token (see retryUnauthorized).
func newHTTPClient(c *benthossse.Config, tokens *tokenSource, extra []string, body []byte) *http.Client {
	secret := []string{"Authorization", "Cookie", "Cookie2"}
	for k := range c.Headers {
		secret = append(secret, k)
	}
	secret = append(secret, extra...)
	var tr http.RoundTripper = transportFor(c)
	if tokens != nil {
		tr = &retryUnauthorized{base: tr, tokens: tokens}
	}
	return &http.Client{Transport: tr, CheckRedirect: redirectPolicy(secret, len(body) > 0)}
}

// shared holds the transports that inputs without a custom TLS or proxy
// configuration share, one per timeout. A transport of its own costs each
// stream its connection pool, maps and HTTP/2 set-up; shared, they cost
// every stream of a process once, and HTTP/2 servers carry many streams on
// one connection. A stream still holds a connection of its own over
// HTTP/1.1, so a slow consumer back-pressures only its own stream.
var shared struct {
	sync.Mutex
	byTimeout map[time.Duration]*http.Transport
}

func transportFor(c *benthossse.Config) *http.Transport {
	if c.TLS != nil || c.ProxyURL != nil {
		return newTransport(c)
	}
	shared.Lock()
	defer shared.Unlock()
	if tr := shared.byTimeout[c.Timeout]; tr != nil {
		return tr
	}
	if shared.byTimeout == nil {
		shared.byTimeout = map[time.Duration]*http.Transport{}
	}
	tr := newTransport(c)
	shared.byTimeout[c.Timeout] = tr
	return tr
}

func newTransport(c *benthossse.Config) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: c.Timeout, KeepAlive: 30 * time.Second}
	tr.DialContext = dialer.DialContext
	tr.TLSHandshakeTimeout = c.Timeout
	tr.ResponseHeaderTimeout = c.Timeout
	// A connection keeps its buffers for its whole life, which for a
	// stream is long: 4 KiB each by default. The write buffer only ever
	// holds the request, a few hundred bytes, and a longer one is written in
	// several pieces (256 rather than 1 KiB: 7.5 MiB less for 10,000
	// streams); the read buffer holds the response headers and the chunk
	// framing, while the parser's own buffer takes the body directly from
	// the socket when it has room. Longer header lines still go through
	// (textproto joins them).
	tr.WriteBufferSize, tr.ReadBufferSize = 256, 1<<10
	if c.TLS != nil {
		tr.TLSClientConfig = c.TLS
	}
	if c.ProxyURL != nil {
		tr.Proxy = http.ProxyURL(c.ProxyURL)
	}
	return tr
}

// errRedirect is wrapped by the error of a redirect the input refuses to
// follow. The event source retries the request with backoff, and the
// reason is logged with each failure.
var errRedirect = errors.New("redirect refused")

// redirectPolicy follows redirects as net/http does (at most 10) but keeps
// what the user configured for one origin (scheme, host and port) to that
// origin, as browsers do:
//   - once a redirect leaves the origin, the secret headers (Authorization,
//     cookies, and every configured header, which the spec treats as
//     secrets) are removed from that request and every later one. net/http
//     alone removes only Authorization and cookies, and only when the host
//     name changes, so a configured API key header would reach any host and
//     a bearer token any port of the same host;
//   - a hop to another origin sends a Referer of the previous URL's origin
//     only (the browsers' strict-origin-when-cross-origin default), never
//     its path and query, where an ?api_key= would leak; net/http sends the
//     whole URL;
//   - a 307 or 308 to another origin, which would re-send the request body
//     (an LLM prompt, say), is refused: the body goes only to the
//     configured origin;
//   - a redirect from https to http is refused, since everything after it,
//     the stream included, would travel in clear.
func redirectPolicy(secret []string, hasBody bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		prev := via[len(via)-1]
		if prev.URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("%w: from https to %s (%s)", errRedirect, req.URL.Scheme, logURL(req.URL.String()))
		}
		if origin(req.URL) != origin(prev.URL) {
			if req.Header.Get("Referer") != "" {
				req.Header.Set("Referer", prev.URL.Scheme+"://"+prev.URL.Host+"/")
			}
		}
		first := origin(via[0].URL)
		left := origin(req.URL) != first
		for _, r := range via[1:] {
			left = left || origin(r.URL) != first
		}
		if !left {
			return nil
		}
		if hasBody && req.Response != nil && (req.Response.StatusCode == http.StatusTemporaryRedirect || req.Response.StatusCode == http.StatusPermanentRedirect) {
			return fmt.Errorf("%w: a %d to another origin (%s) would re-send the request body there", errRedirect, req.Response.StatusCode, logURL(req.URL.String()))
		}
		for _, h := range secret {
			req.Header.Del(h)
		}
		return nil
	}
}

// origin returns the scheme, host and port of u, with the default port
// made explicit.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}
