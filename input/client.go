package input

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	benthossse "github.com/benthos-sse/benthos-sse"
)

// newHTTPClient builds the client that makes every request: the
// EventSource `fetcher`, configured from YAML. Its Timeout stays zero,
// because it would also cut off a long-lived stream; timeout bounds the
// dial, the TLS handshake and the wait for response headers instead.
func newHTTPClient(c *benthossse.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: c.Timeout, KeepAlive: 30 * time.Second}
	tr.DialContext = dialer.DialContext
	tr.TLSHandshakeTimeout = c.Timeout
	tr.ResponseHeaderTimeout = c.Timeout
	// A connection keeps its buffers for its whole life, which for a
	// stream is long: 4 KiB each by default. The write buffer only ever
	// holds the request; the read buffer holds the response headers and the
	// chunk framing, while the parser's own buffer takes the body directly
	// from the socket when it has room. Longer header lines still go
	// through (textproto joins them).
	tr.WriteBufferSize, tr.ReadBufferSize = 1<<10, 1<<10
	if c.TLS != nil {
		tr.TLSClientConfig = c.TLS
	}
	if c.ProxyURL != nil {
		tr.Proxy = http.ProxyURL(c.ProxyURL)
	}
	secret := []string{"Authorization", "Cookie", "Cookie2"}
	for k := range c.Headers {
		secret = append(secret, k)
	}
	return &http.Client{Transport: tr, CheckRedirect: keepCredentialsToOrigin(secret)}
}

// keepCredentialsToOrigin follows redirects as net/http does (at most 10)
// but keeps credentials to the origin they were configured for: once a
// redirect leaves it (another scheme, host or port), the secret headers
// (Authorization, cookies, and every configured header, which the spec
// treats as secrets) are removed from that request and every later one.
// net/http alone removes only Authorization and cookies, and only when the
// host name changes, so a configured API key header would reach any host
// and a bearer token any port of the same host.
func keepCredentialsToOrigin(secret []string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		first := origin(via[0].URL)
		left := origin(req.URL) != first
		for _, r := range via[1:] {
			left = left || origin(r.URL) != first
		}
		if left {
			for _, h := range secret {
				req.Header.Del(h)
			}
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
