// Package rediscache registers the `redis` cache of the benthos-sse binary: a
// cache on a Redis server (single node, Redis Cluster, or Sentinel failover),
// so that an sse input's checkpoint outlives the machine it was written on.
//
// Its field names follow Redpanda Connect's redis cache, so a Connect config
// carries over. It lives under cmd/benthos-sse and is blank-imported only by
// the binary: the importable input package never depends on a Redis client.
package rediscache

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redis/go-redis/v9"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	fieldURL        = "url"
	fieldKind       = "kind"
	fieldMaster     = "master"
	fieldClientName = "client_name"
	fieldTLS        = "tls"
	fieldPrefix     = "prefix"
	fieldDefaultTTL = "default_ttl"
	fieldRetries    = "retries"

	redisKindSimple   = "simple"
	redisKindCluster  = "cluster"
	redisKindFailover = "failover"
)

// The spec is written out in full, like the other components' here (same
// shape: field-name constants, then one chain): Benthos spec boilerplate
// that reads best inline, so it is not shared on purpose.
func redisCacheSpec() *service.ConfigSpec {
	retryDefaults := backoff.NewExponentialBackOff()
	retryDefaults.InitialInterval = 500 * time.Millisecond
	retryDefaults.MaxInterval = time.Second
	retryDefaults.MaxElapsedTime = 5 * time.Second

	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Use a Redis server as a cache: a single node, a Redis Cluster, or a master found through Sentinel.").
		Description(`Keys are stored as Redis strings under `+"`prefix`"+` followed by the key. A TTL passed by the caller, else `+"`default_ttl`"+`, becomes the key's expiry; no TTL means the key never expires.

`+"`add`"+` is atomic (a single SET NX), so two instances racing to add a key cannot both succeed: the loser gets "key already exists". A failed operation is retried by `+"`retries`"+`; a missing key or an existing key on add is an answer, not a failure, and is never retried.

With an `+"`sse`"+` input, point `+"`checkpoint.cache`"+` at a redis cache resource to keep the resume point where any instance started with the same config can find it, for example after a pod moves to another node.

The fields are those of Redpanda Connect's redis cache, so a Connect config carries over; the only difference is the default of `+"`client_name`"+`.`).
		Field(service.NewURLField(fieldURL).
			Description("The URL of the Redis server: `redis://` or `rediss://` (TLS), with an optional user and password, and the database number as the path. For `kind: cluster` or `failover`, give several URLs separated by commas: the cluster's seed nodes, or the Sentinel servers; credentials and the database come from the first URL.").
			Example("redis://127.0.0.1:6379").
			Example("redis://:foopassword@redisplace:6379/1").
			Example("rediss://user:password@redis.example.com:6380").
			Example("redis://10.0.0.1:6379,redis://10.0.0.2:6379,redis://10.0.0.3:6379")).
		Field(service.NewStringEnumField(fieldKind, redisKindSimple, redisKindCluster, redisKindFailover).
			Description("The kind of client: `simple` talks to one server, `cluster` to a Redis Cluster (following its slot map), `failover` asks the Sentinel servers in `url` for the master named by `master` and follows fail-overs.").
			Default(redisKindSimple).
			Example(redisKindCluster).
			Advanced()).
		Field(service.NewStringField(fieldMaster).
			Description("The name of the master that the Sentinels monitor. Required when `kind` is `failover`, ignored otherwise.").
			Default("").
			Example("mymaster").
			Advanced()).
		Field(service.NewStringField(fieldClientName).
			Description("The name the client gives each connection (`CLIENT SETNAME`), shown by `CLIENT LIST`. Connect's default is `redpanda-connect`; this binary's is `benthos-sse`. An empty string sets no name.").
			Default("benthos-sse").
			Example("sse-ingest-eu").
			Advanced()).
		Field(service.NewTLSToggledField(fieldTLS)).
		Field(service.NewStringField(fieldPrefix).
			Description("A string put in front of every key, so that several pipelines or services can share one Redis without their keys colliding.").
			Example("sse:").
			Optional()).
		Field(service.NewDurationField(fieldDefaultTTL).
			Description("The expiry of an item set without a TTL of its own, counted from the moment it is set. Unset, empty or `0s` means items never expire (what a checkpoint needs).").
			Example("60s").
			Example("24h").
			Optional().
			Advanced()).
		Field(service.NewBackOffField(fieldRetries, false, retryDefaults).
			Description("How a failed operation (the server unreachable, a time-out) is retried before the error is returned to the component that used the cache. After `max_elapsed_time` the error is returned, and, for a checkpoint, the input decides what to do with it.").
			Advanced()).
		LintRule(`root = if this.kind.or("simple") == "failover" && this.master.or("") == "" { [ "field master is required when kind is failover" ] }`).
		Example("Checkpoint in Redis",
			"Keep an sse input's resume point in Redis, so that an instance started anywhere with this config resumes where the last one stopped.",
			`
input:
  sse:
    url: https://stream.example.com/events
    checkpoint:
      cache: shared_state
      key: example_stream

cache_resources:
  - label: shared_state
    redis:
      url: redis://redis.internal:6379/0
      prefix: "benthos-sse:"
`)
}

func init() {
	service.MustRegisterCache("redis", redisCacheSpec(), newRedisCache)
}

// newRedisCache is the registered constructor.
func newRedisCache(conf *service.ParsedConfig, mgr *service.Resources) (service.Cache, error) {
	goRedisLogOnce.Do(func() { redis.SetLogger(goRedisLogger{mgr.Logger()}) })
	return newRedisCacheFromConfig(conf)
}

// goRedisLogOnce routes go-redis' own log lines (such as a failed dial during
// an outage), which it would print to stderr in a format of its own, to the
// first redis cache's logger at debug level: the logger is global to
// go-redis, and every failure also reaches the component that used the cache,
// which logs and counts it.
var goRedisLogOnce sync.Once

type goRedisLogger struct{ log *service.Logger }

func (l goRedisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debugf(format, v...)
}

// redisCache implements service.Cache on a go-redis client.
type redisCache struct {
	client     redis.UniversalClient
	prefix     string
	defaultTTL time.Duration
	retries    backoff.ExponentialBackOff // copied per operation; not safe to share
}

func newRedisCacheFromConfig(conf *service.ParsedConfig) (*redisCache, error) {
	client, err := redisClientFromConfig(conf)
	if err != nil {
		return nil, err
	}
	c := &redisCache{client: client}
	if conf.Contains(fieldPrefix) {
		if c.prefix, err = conf.FieldString(fieldPrefix); err != nil {
			client.Close()
			return nil, err
		}
	}
	// As in Connect, an empty string means no default TTL.
	if ttl, _ := conf.FieldString(fieldDefaultTTL); ttl != "" {
		if c.defaultTTL, err = conf.FieldDuration(fieldDefaultTTL); err != nil {
			client.Close()
			return nil, err
		}
		if c.defaultTTL < 0 {
			client.Close()
			return nil, fmt.Errorf("field %q: %v is negative", fieldDefaultTTL, c.defaultTTL)
		}
	}
	boff, err := conf.FieldBackOff(fieldRetries)
	if err != nil {
		client.Close()
		return nil, err
	}
	c.retries = *boff
	return c, nil
}

// redisClientFromConfig builds the client for the configured kind. It does not
// connect: go-redis dials on the first command, so a Redis that is down at
// start-up delays the first Get rather than failing the config.
//
// The field reads are written out one by one, as in the other components'
// config readers: Benthos boilerplate, kept inline on purpose so that each
// error points at its own field.
func redisClientFromConfig(conf *service.ParsedConfig) (redis.UniversalClient, error) {
	rawURL, err := conf.FieldString(fieldURL)
	if err != nil {
		return nil, err
	}
	kind, err := conf.FieldString(fieldKind)
	if err != nil {
		return nil, err
	}
	master, err := conf.FieldString(fieldMaster)
	if err != nil {
		return nil, err
	}
	clientName, err := conf.FieldString(fieldClientName)
	if err != nil {
		return nil, err
	}
	tlsConf, tlsEnabled, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return nil, err
	}

	var opts []*redis.Options
	for _, u := range strings.Split(rawURL, ",") {
		o, err := redis.ParseURL(strings.TrimSpace(u))
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", fieldURL, err)
		}
		opts = append(opts, o)
	}
	first := opts[0]
	if tlsEnabled {
		first.TLSConfig = tlsConf
	}
	addrs := make([]string, len(opts))
	for i, o := range opts {
		addrs[i] = o.Addr
	}

	// The retries field is the one retry policy: go-redis' own retries
	// (three by default) would stretch every attempt past max_elapsed_time.
	const noRetries = -1
	switch kind {
	case redisKindSimple:
		if len(opts) > 1 {
			return nil, fmt.Errorf("field %q: %d URLs given, but kind %q takes one (use kind cluster or failover for several)", fieldURL, len(opts), kind)
		}
		first.ClientName = clientName
		first.MaxRetries = noRetries
		return redis.NewClient(first), nil
	case redisKindCluster:
		if first.DB != 0 {
			return nil, fmt.Errorf("field %q: database %d selected, but a Redis Cluster has only database 0", fieldURL, first.DB)
		}
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:      addrs,
			ClientName: clientName,
			Username:   first.Username,
			Password:   first.Password,
			TLSConfig:  first.TLSConfig,
			MaxRetries: noRetries,
		}), nil
	case redisKindFailover:
		if master == "" {
			return nil, fmt.Errorf("field %q: required when kind is %q", fieldMaster, kind)
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:    master,
			SentinelAddrs: addrs,
			ClientName:    clientName,
			Username:      first.Username,
			Password:      first.Password,
			DB:            first.DB,
			TLSConfig:     first.TLSConfig,
			MaxRetries:    noRetries,
		}), nil
	}
	return nil, fmt.Errorf("field %q: unknown kind %q", fieldKind, kind)
}

// retry runs op until it succeeds, returns a permanent error, or the retries
// bound runs out; it returns op's last error.
func (c *redisCache) retry(ctx context.Context, op func() error) error {
	b := c.retries
	b.Reset()
	return backoff.Retry(func() error {
		err := op()
		if err == nil || isNilReply(err) || ctx.Err() != nil {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(&b, ctx))
}

// isNilReply reports whether err is a command's nil reply (a missing key).
// It compares, not errors.Is: go-redis returns redis.Nil itself for a nil
// reply, and wraps it only in other failures, such as a failover client whose
// Sentinels do not know the master, which must not read as a missing key.
func isNilReply(err error) bool {
	return err == redis.Nil //nolint:errorlint // see above
}

func (c *redisCache) ttl(ttl *time.Duration) time.Duration {
	if ttl != nil {
		return *ttl
	}
	return c.defaultTTL
}

// Get returns the value at key, or service.ErrKeyNotFound.
func (c *redisCache) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := c.retry(ctx, func() (err error) {
		v, err = c.client.Get(ctx, c.prefix+key).Bytes()
		return err
	})
	if isNilReply(err) {
		return nil, service.ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redis get %q: %w", c.prefix+key, err)
	}
	return v, nil
}

// Set stores value at key, with ttl or else the default TTL (zero: no expiry).
func (c *redisCache) Set(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	err := c.retry(ctx, func() error {
		return c.client.Set(ctx, c.prefix+key, value, c.ttl(ttl)).Err()
	})
	if err != nil {
		return fmt.Errorf("redis set %q: %w", c.prefix+key, err)
	}
	return nil
}

// SetMulti stores several items in one round trip (a MULTI/EXEC
// transaction, so that all or none are written). Benthos uses it when a
// component sets many keys at once.
func (c *redisCache) SetMulti(ctx context.Context, items ...service.CacheItem) error {
	err := c.retry(ctx, func() error {
		_, err := c.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, it := range items {
				p.Set(ctx, c.prefix+it.Key, it.Value, c.ttl(it.TTL))
			}
			return nil
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("redis set of %d items: %w", len(items), err)
	}
	return nil
}

// Add stores value at key only if key is absent, atomically (SET NX), and
// returns service.ErrKeyAlreadyExists otherwise. A retry after a lost reply
// can report ErrKeyAlreadyExists for the key this call itself added.
func (c *redisCache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	var added bool
	err := c.retry(ctx, func() (err error) {
		added, err = c.client.SetNX(ctx, c.prefix+key, value, c.ttl(ttl)).Result()
		return err
	})
	if err != nil {
		return fmt.Errorf("redis add %q: %w", c.prefix+key, err)
	}
	if !added {
		return service.ErrKeyAlreadyExists
	}
	return nil
}

// Delete removes key; deleting a missing key is not an error.
func (c *redisCache) Delete(ctx context.Context, key string) error {
	err := c.retry(ctx, func() error {
		return c.client.Del(ctx, c.prefix+key).Err()
	})
	if err != nil {
		return fmt.Errorf("redis delete %q: %w", c.prefix+key, err)
	}
	return nil
}

// Close closes the client's connections.
func (c *redisCache) Close(ctx context.Context) error {
	return c.client.Close()
}
