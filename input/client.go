package input

import (
	"net"
	"net/http"
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
	if c.TLS != nil {
		tr.TLSClientConfig = c.TLS
	}
	if c.ProxyURL != nil {
		tr.Proxy = http.ProxyURL(c.ProxyURL)
	}
	return &http.Client{Transport: tr}
}
