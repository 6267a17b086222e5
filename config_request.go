package benthossse

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// This file holds the parts of the input's config that are evaluated at
// every connection attempt (url, headers, bearer_token), the oauth2 block,
// and resume.cursor: the request a stream sends, as opposed to how the
// input treats what comes back.

// interpolatedDoc is what the description of every field evaluated at each
// connection attempt says about it.
const interpolatedDoc = "It is an interpolated string, evaluated before every connection attempt (reconnections included) against a message whose metadata holds `sse_id` (the last event ID) and, with `resume.cursor`, `sse_cursor` (absent before the first cursor: write `@sse_cursor.or(\"\")` or test it against null), so a token read with `${! file(path: \"/var/run/secrets/token\", no_cache: true).string().trim() }` is used from the next attempt on, with no restart (`file` and `env` cache what they read unless `no_cache` is set). An evaluation that fails (a missing file, say) fails that attempt: logged with the reason, counted in `sse_reconnects` with cause `request`, and retried with the `reconnect` backoff."

// OAuth2Config is the oauth2 block: OAuth 2 client credentials, with the
// field names and types of http_client's oauth2 so that a config carries
// over.
type OAuth2Config struct {
	ClientKey      string
	ClientSecret   string
	TokenURL       string
	Scopes         []string
	EndpointParams map[string][]string
}

// oauth2Field is the oauth2 block of http_client, field for field.
func oauth2Field() *service.ConfigField {
	return service.NewObjectField(fieldOAuth2,
		service.NewBoolField(fieldOAuth2Enabled).
			Description("Whether to use OAuth 2 client credentials.").
			Default(false).Example(true),
		service.NewStringField(fieldOAuth2ClientKey).
			Description("A value used to identify the client to the token provider.").
			Default("").Example("${CLIENT_ID}"),
		service.NewStringField(fieldOAuth2ClientSecret).
			Description("A secret used to establish ownership of the client key.").
			Default("").Secret().Example("${CLIENT_SECRET}"),
		service.NewStringField(fieldOAuth2TokenURL).
			Description("The URL of the token provider.").
			Default("").Example("https://auth.example.com/oauth2/token").
			LintRule(`root = if this != "" && !this.has_prefix("http://") && !this.has_prefix("https://") { [ "oauth2.token_url: %v must start with http:// or https://".format(this) ] }`),
		service.NewStringListField(fieldOAuth2Scopes).
			Description("A list of optional requested permissions.").
			Default([]any{}).Example([]string{"events:read"}).
			Advanced(),
		service.NewAnyMapField(fieldOAuth2EndpointParams).
			Description("A list of optional endpoint parameters, values should be arrays of strings.").
			Advanced().
			Example(map[string]any{"audience": []string{"https://api.example.com"}}).
			Default(map[string]any{}).
			Optional().
			LintRule(`root = if this.type() == "object" {
  this.values().map_each(ele -> if ele.type() != "array" {
    "oauth2.endpoint_params: values must be arrays of strings, got %s (%v)".format(ele.format_json(no_indent: true), ele.type())
  } else {
    ele.map_each(str -> if str.type() != "string" {
      "oauth2.endpoint_params: values must be strings, got %s (%v)".format(str.format_json(no_indent: true), str.type())
    } else { deleted() })
  }).flatten()
}`),
	).
		Description("OAuth 2 client credentials, as `http_client` has them: a token is fetched from `token_url` (with `client_key` and `client_secret`), cached, and sent as `Authorization: Bearer <token>` on the first request of every connection. It is refreshed before it expires (a quarter of its lifetime before, at most 10s), so a stream reconnecting at any moment never sends an expired one. A 401 answer triggers one refresh and one immediate retry, never more until a request is accepted: each later 401 drops the token it refused, so the next attempt, after the backoff (`reconnect.max_interval` for a 401), fetches a new one. A failing token endpoint fails the attempt: logged with the first 512 bytes of its answer, counted in `sse_reconnects` with cause `request`, and retried with the `reconnect` backoff. It cannot be combined with another source of the `Authorization` header (`bearer_token`, an `Authorization` entry of `headers`, `basic_auth`, `jwt` or `oauth`): lint refuses the pair, as nothing could say which one the server should see.").
		Example(map[string]any{"enabled": true, "client_key": "${CLIENT_ID}", "client_secret": "${CLIENT_SECRET}", "token_url": "https://auth.example.com/oauth2/token"}).
		Optional().Advanced()
}

// oauth2ExclusiveExpr is a Bloblang expression for the lint messages that
// refuse oauth2 together with another source of the Authorization header
// (null when there is none); it needs $auth (authorizationLet).
const oauth2ExclusiveExpr = `if this.oauth2.enabled.or(false) == true {
  [
    if this.oauth2.token_url.or("") == "" { "oauth2.token_url must be set when oauth2 is enabled" },
    if this.headers.or({}).keys().any(k -> k.lowercase() == "authorization") { "oauth2 and headers.Authorization both set the Authorization header: keep one" },
  ].filter(x -> x != null).merge($auth.filter(a -> a != "oauth2").map_each(a -> "oauth2 and %s both set the Authorization header: keep one".format(a)))
}`

// authorizationLet is authorizationField in Bloblang: $auth holds the
// fields of the input that set every request's Authorization header.
const authorizationLet = `let auth = [
  if this.bearer_token.or("") != "" { "bearer_token" },
  if this.oauth2.enabled.or(false) == true { "oauth2" },
  if this.basic_auth.enabled.or(false) == true { "basic_auth" },
  if this.jwt.enabled.or(false) == true { "jwt" },
  if this.oauth.enabled.or(false) == true { "oauth" },
].filter(x -> x != null)`

// streamAuthorizationExpr is Config.CheckStream in Bloblang, for every
// entry of streams (it needs $auth): on the input's first line, as only the
// input sees both, with the entry's index and name.
const streamAuthorizationExpr = `if $auth.length() > 0 {
  this.streams.or([]).enumerated().filter(e -> e.value.headers.or({}).keys().any(k -> k.lowercase() == "authorization")).map_each(e -> "streams.%v%v: headers.Authorization: the input's %v sets the Authorization header of every request, replacing the stream's own: keep one".format(e.index, if e.value.name.or("") != "" { " (" + e.value.name + ")" } else { "" }, $auth.index(0)))
} else { [] }`

// parseRequest reads url, headers and bearer_token: the templates that
// every connection attempt evaluates.
func parseRequest(conf *service.ParsedConfig, c *Config) error {
	var err error
	if conf.Contains(fieldURL) {
		if c.URL, err = conf.FieldString(fieldURL); err != nil {
			return FieldError(fieldURL, err)
		}
		if c.URLTemplate, err = conf.FieldInterpolatedString(fieldURL); err != nil {
			return FieldError(fieldURL, err)
		}
		if _, static := c.URLTemplate.Static(); static {
			c.URLTemplate = nil
		}
	}
	if c.URL != "" {
		base := c.URL
		if c.URLTemplate != nil {
			// The written-out part, up to the first interpolation: a URL
			// for the event source to show, and the check that the scheme
			// and host are fixed.
			base, _, _ = strings.Cut(base, "${!")
		}
		if _, rest, _ := strings.Cut(base, "://"); c.URLTemplate != nil && !strings.ContainsAny(rest, "/?#") {
			// The host ends where the interpolation begins.
			return FieldError(fieldURL, errors.New("the scheme and host must be written out; an interpolation may only follow them"))
		}
		u, err := url.Parse(base)
		if err != nil {
			return FieldError(fieldURL, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return FieldError(fieldURL, fmt.Errorf("%s must be an http:// or https:// URL with a host", u.Redacted()))
		}
		c.URLBase = base
	}
	headers, err := conf.FieldInterpolatedStringMap(fieldHeaders)
	if err != nil {
		return FieldError(fieldHeaders, err)
	}
	raw, err := conf.FieldStringMap(fieldHeaders)
	if err != nil {
		return FieldError(fieldHeaders, err)
	}
	c.Headers = map[string]*service.InterpolatedString{}
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		if !isToken(k) {
			return FieldError(fieldHeaders+"."+k, errors.New("is not a valid HTTP header name"))
		}
		if hasControlChars(raw[k]) {
			return FieldError(fieldHeaders+"."+k, errors.New("the value holds a control character such as CR or LF, which cannot be sent"))
		}
		c.Headers[k] = headers[k]
	}
	if conf.Contains(fieldBearerToken) {
		rawToken, err := conf.FieldString(fieldBearerToken)
		if err != nil {
			return FieldError(fieldBearerToken, err)
		}
		if hasControlChars(rawToken) {
			return FieldError(fieldBearerToken, errors.New("must not contain CR, LF or other control characters"))
		}
		if rawToken != "" {
			if c.BearerToken, err = conf.FieldInterpolatedString(fieldBearerToken); err != nil {
				return FieldError(fieldBearerToken, err)
			}
		}
	}
	return nil
}

// parseOAuth2 reads the oauth2 block; it leaves c.OAuth2 nil when the block
// is absent or disabled.
func parseOAuth2(conf *service.ParsedConfig, c *Config) error {
	if !conf.Contains(fieldOAuth2) {
		return nil
	}
	o := conf.Namespace(fieldOAuth2)
	path := func(f string) string { return fieldOAuth2 + "." + f }
	on, err := o.FieldBool(fieldOAuth2Enabled)
	if err != nil {
		return FieldError(path(fieldOAuth2Enabled), err)
	}
	if !on {
		return nil
	}
	oc := &OAuth2Config{EndpointParams: map[string][]string{}}
	if oc.ClientKey, err = o.FieldString(fieldOAuth2ClientKey); err != nil {
		return FieldError(path(fieldOAuth2ClientKey), err)
	}
	if oc.ClientSecret, err = o.FieldString(fieldOAuth2ClientSecret); err != nil {
		return FieldError(path(fieldOAuth2ClientSecret), err)
	}
	if oc.TokenURL, err = o.FieldString(fieldOAuth2TokenURL); err != nil {
		return FieldError(path(fieldOAuth2TokenURL), err)
	}
	if u, err := url.Parse(oc.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return FieldError(path(fieldOAuth2TokenURL), errors.New("must be an http:// or https:// URL with a host when oauth2 is enabled"))
	}
	if oc.Scopes, err = o.FieldStringList(fieldOAuth2Scopes); err != nil {
		return FieldError(path(fieldOAuth2Scopes), err)
	}
	if o.Contains(fieldOAuth2EndpointParams) {
		params, err := o.FieldAnyMap(fieldOAuth2EndpointParams)
		if err != nil {
			return FieldError(path(fieldOAuth2EndpointParams), err)
		}
		for k, v := range params {
			if oc.EndpointParams[k], err = v.FieldStringList(); err != nil {
				return FieldError(path(fieldOAuth2EndpointParams)+"."+k, err)
			}
		}
	}
	if _, ok := authorizationKey(maps.Keys(c.Headers)); ok {
		return errors.New("oauth2 and headers.Authorization both set the Authorization header: keep one")
	}
	if other := authorizationField(conf, c); other != "" {
		return fmt.Errorf("oauth2 and %s both set the Authorization header: keep one", other)
	}
	c.OAuth2 = oc
	return nil
}

// authorizationKey returns the key of keys that is Authorization, in any
// case.
func authorizationKey(keys iter.Seq[string]) (string, bool) {
	for k := range keys {
		if strings.EqualFold(k, "Authorization") {
			return k, true
		}
	}
	return "", false
}

// authorizationField names the field of the input, other than oauth2 when
// c.OAuth2 is not yet set, that sets every request's Authorization header
// (see Config.Authorization), or "".
func authorizationField(conf *service.ParsedConfig, c *Config) string {
	switch {
	case c.BearerToken != nil:
		return fieldBearerToken
	case c.OAuth2 != nil:
		return fieldOAuth2
	}
	for _, f := range []string{"basic_auth", "jwt", "oauth"} {
		if conf.Contains(f, "enabled") {
			if on, _ := conf.FieldBool(f, "enabled"); on {
				return f
			}
		}
	}
	return ""
}

// parseResume reads resume.cursor.
func parseResume(conf *service.ParsedConfig, c *Config) error {
	if !conf.Contains(fieldResume, fieldResumeCursor) {
		return nil
	}
	raw, err := conf.FieldString(fieldResume, fieldResumeCursor)
	if err != nil {
		return FieldError(fieldResume+"."+fieldResumeCursor, err)
	}
	if strings.TrimSpace(raw) == "" {
		return nil // the default: resume from the event ID
	}
	if c.ResumeCursor, err = conf.FieldBloblang(fieldResume, fieldResumeCursor); err != nil {
		return FieldError(fieldResume+"."+fieldResumeCursor, err)
	}
	return nil
}
