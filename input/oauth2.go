package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/sse"
)

// maxRefreshMargin bounds how long before its expiry a token is refreshed.
// A quarter of the token's lifetime is used when that is shorter, so that
// a token living only seconds is still used for most of its life.
const maxRefreshMargin = 10 * time.Second

// tokenSource holds the OAuth 2 client-credentials token of one input: it
// fetches one from the token endpoint when it has none or when the one it
// has is within its refresh margin of expiring, and drops one a server
// refused. Safe for concurrent use, so that the streams of one input can
// share it.
type tokenSource struct {
	conf    clientcredentials.Config
	client  *http.Client // for the token endpoint
	timeout time.Duration

	mu      sync.Mutex
	tok     *oauth2.Token
	refresh time.Time // when tok is to be replaced; zero: never
	// retried: a 401 was already answered with a refresh and a retry since
	// the last accepted request, so the next one waits for the backoff.
	retried bool
}

func newTokenSource(c *benthossse.OAuth2Config, client *http.Client, timeout time.Duration) *tokenSource {
	return &tokenSource{
		conf: clientcredentials.Config{
			ClientID:       c.ClientKey,
			ClientSecret:   c.ClientSecret,
			TokenURL:       c.TokenURL,
			Scopes:         c.Scopes,
			EndpointParams: c.EndpointParams,
		},
		client:  client,
		timeout: timeout,
	}
}

// token returns a token valid for at least its refresh margin, fetching a
// new one when needed. ctx is the connection attempt's: closing the input
// ends a fetch.
func (s *tokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && (s.refresh.IsZero() || time.Now().Before(s.refresh)) {
		return s.tok.AccessToken, nil
	}
	return s.fetch(ctx)
}

// fetch gets a new token; s.mu must be held.
func (s *tokenSource) fetch(ctx context.Context) (string, error) {
	s.tok = nil
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	fetched := time.Now()
	tok, err := s.conf.Token(context.WithValue(ctx, oauth2.HTTPClient, s.client))
	if err != nil {
		return "", tokenError(s.conf.TokenURL, err)
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("token endpoint %s answered without an access_token", logURL(s.conf.TokenURL))
	}
	s.tok, s.refresh = tok, time.Time{}
	if !tok.Expiry.IsZero() {
		margin := min(maxRefreshMargin, tok.Expiry.Sub(fetched)/4)
		s.refresh = tok.Expiry.Add(-margin)
	}
	return tok.AccessToken, nil
}

// refused is told that a server answered 401 to a request carrying token.
// It drops that token, so that the next attempt fetches another, and
// reports whether the caller may retry at once with a fresh token: only
// once until a request is accepted, so that a server refusing every token
// meets the backoff, never a loop.
func (s *tokenSource) refused(token string) (retry bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken == token {
		s.tok = nil
	}
	retry = !s.retried
	s.retried = true
	return retry
}

// accepted is told that a request with a token was answered with anything
// but 401: the next 401 may be retried at once again.
func (s *tokenSource) accepted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retried = false
}

// tokenError describes a failed token request for the log: the token
// endpoint's status and the start of its answer, which is where it says
// why ("invalid_client"), bounded and with control characters escaped; or
// the network error. The error clientcredentials returns holds the whole
// body, unescaped.
func tokenError(tokenURL string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return &boundedErr{msg: fmt.Sprintf("token endpoint %s answered %s; body: %s", logURL(tokenURL), re.Response.Status, sse.Excerpt(re.Body)), err: err}
	}
	return &boundedErr{msg: fmt.Sprintf("token endpoint %s: %s", logURL(tokenURL), logErr(err)), err: err}
}

// retryUnauthorized is the transport of an input with oauth2: a 401 answer
// to a request carrying the input's token makes it fetch a new token and
// send the request again at once, once (see tokenSource.refused). A
// redirected request to another origin carries no token (the redirect
// policy drops it), so it is never retried with one.
type retryUnauthorized struct {
	base   http.RoundTripper
	tokens *tokenSource
}

func (rt *retryUnauthorized) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.base.RoundTrip(req)
	token, ok := bearer(req)
	if err != nil || !ok {
		return resp, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		rt.tokens.accepted()
		return resp, nil
	}
	if !rt.tokens.refused(token) || (req.Body != nil && req.GetBody == nil) {
		return resp, nil
	}
	fresh, err := rt.tokens.token(req.Context())
	if err != nil {
		return resp, nil // the 401 stands; the next attempt fetches again
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	retry.Header.Set("Authorization", "Bearer "+fresh)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp, err = rt.base.RoundTrip(retry)
	if err == nil && resp.StatusCode != http.StatusUnauthorized {
		rt.tokens.accepted()
	} else if err == nil {
		rt.tokens.refused(fresh)
	}
	return resp, err
}

// bearer returns the bearer token a request carries.
func bearer(req *http.Request) (string, bool) {
	const prefix = "Bearer "
	v := req.Header.Get("Authorization")
	if len(v) <= len(prefix) || v[:len(prefix)] != prefix {
		return "", false
	}
	return v[len(prefix):], true
}
