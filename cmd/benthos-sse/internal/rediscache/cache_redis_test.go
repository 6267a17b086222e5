package rediscache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/benthos-sse/benthos-sse/internal/redistest"

	"github.com/benthos-sse/benthos-sse/internal/syncbuf"
)

// newTestCache builds a redis cache from YAML, the way Benthos does, and
// closes it when the test ends.
func newTestCache(t *testing.T, yaml string) *redisCache {
	t.Helper()
	conf, err := redisCacheSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	c, err := newRedisCacheFromConfig(conf)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func TestRedisCache_Operations(t *testing.T) {
	srv := redistest.Start(t)
	c := newTestCache(t, fmt.Sprintf("url: %s\nprefix: 'p:'\n", srv.URL()))
	ctx := context.Background()

	_, err := c.Get(ctx, "k")
	assert.ErrorIs(t, err, service.ErrKeyNotFound, "Get of a missing key")

	require.NoError(t, c.Set(ctx, "k", []byte("v1"), nil))
	got, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(got))
	raw, err := srv.Do("GET", "p:k")
	require.NoError(t, err)
	assert.Equal(t, "v1", raw, "the key is stored under the prefix")

	assert.ErrorIs(t, c.Add(ctx, "k", []byte("v2"), nil), service.ErrKeyAlreadyExists, "Add of an existing key")
	got, err = c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(got), "a refused Add leaves the value")

	require.NoError(t, c.Add(ctx, "new", []byte("n"), nil))
	got, err = c.Get(ctx, "new")
	require.NoError(t, err)
	assert.Equal(t, "n", string(got))

	require.NoError(t, c.SetMulti(ctx,
		service.CacheItem{Key: "m1", Value: []byte("a")},
		service.CacheItem{Key: "m2", Value: []byte("b")}))
	for k, want := range map[string]string{"m1": "a", "m2": "b"} {
		got, err := c.Get(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, want, string(got), k)
	}

	require.NoError(t, c.Delete(ctx, "k"))
	_, err = c.Get(ctx, "k")
	assert.ErrorIs(t, err, service.ErrKeyNotFound, "Get after Delete")
	assert.NoError(t, c.Delete(ctx, "k"), "Delete of a missing key")

	// Binary values survive unchanged.
	bin := []byte{0, 1, 2, 0xff, '\r', '\n'}
	require.NoError(t, c.Set(ctx, "bin", bin, nil))
	got, err = c.Get(ctx, "bin")
	require.NoError(t, err)
	assert.Equal(t, bin, got)
}

func TestRedisCache_AddIsAtomic(t *testing.T) {
	srv := redistest.Start(t)
	// Two caches, like two benthos-sse instances sharing one Redis.
	a := newTestCache(t, "url: "+srv.URL())
	b := newTestCache(t, "url: "+srv.URL())
	const racers = 20
	errs := make(chan error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.Add(context.Background(), "race", fmt.Appendf(nil, "%d", i), nil)
		}()
	}
	wg.Wait()
	close(errs)
	var won, lost int
	for err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, service.ErrKeyAlreadyExists):
			lost++
		default:
			t.Errorf("unexpected Add error: %v", err)
		}
	}
	assert.Equal(t, 1, won, "exactly one Add succeeds")
	assert.Equal(t, racers-1, lost)
}

func TestRedisCache_TTL(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	hour, second := time.Hour, time.Second
	tests := []struct {
		name    string
		yaml    string
		ttl     *time.Duration
		add     bool
		wantMin time.Duration // PTTL bounds; -1ms means no expiry
		wantMax time.Duration
	}{
		{name: "no ttl, no default: never expires", yaml: "", wantMin: -time.Millisecond, wantMax: -time.Millisecond},
		{name: "default_ttl applies", yaml: "default_ttl: 1h\n", wantMin: 59 * time.Minute, wantMax: time.Hour},
		{name: "default_ttl 0s: never expires", yaml: "default_ttl: 0s\n", wantMin: -time.Millisecond, wantMax: -time.Millisecond},
		{name: "caller's ttl wins over default", yaml: "default_ttl: 1h\n", ttl: &second, wantMin: 1, wantMax: time.Second},
		{name: "caller's ttl without default", ttl: &hour, wantMin: 59 * time.Minute, wantMax: time.Hour},
		{name: "add honours ttl", ttl: &second, add: true, wantMin: 1, wantMax: time.Second},
		{name: "add honours default_ttl", yaml: "default_ttl: 1h\n", add: true, wantMin: 59 * time.Minute, wantMax: time.Hour},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(t, "url: "+srv.URL()+"\n"+tt.yaml)
			key := fmt.Sprintf("ttl%d", i)
			if tt.add {
				require.NoError(t, c.Add(ctx, key, []byte("v"), tt.ttl))
			} else {
				require.NoError(t, c.Set(ctx, key, []byte("v"), tt.ttl))
			}
			v, err := srv.Do("PTTL", key)
			require.NoError(t, err)
			pttl := time.Duration(v.(int64)) * time.Millisecond
			assert.GreaterOrEqual(t, pttl, tt.wantMin)
			assert.LessOrEqual(t, pttl, tt.wantMax)
		})
	}

	t.Run("an expired key is not found", func(t *testing.T) {
		c := newTestCache(t, "url: "+srv.URL())
		short := 50 * time.Millisecond
		require.NoError(t, c.Set(ctx, "expiring", []byte("v"), &short))
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := c.Get(ctx, "expiring")
			if errors.Is(err, service.ErrKeyNotFound) {
				break
			}
			require.NoError(t, err)
			require.True(t, time.Now().Before(deadline), "key with a 50ms TTL still present after 5s")
			time.Sleep(20 * time.Millisecond) // polling Redis' clock, not synchronising goroutines
		}
		// Once expired, Add succeeds again.
		assert.NoError(t, c.Add(ctx, "expiring", []byte("again"), nil))
	})
}

// failureHook reports each failed command on a channel, so a test knows that
// the cache has seen Redis down before it brings Redis back.
type failureHook struct{ failed chan error }

func (h failureHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			select {
			case h.failed <- err:
			default:
			}
		}
		return conn, err
	}
}

func (h failureHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h failureHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestRedisCache_Outage(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()

	t.Run("retries until Redis is back", func(t *testing.T) {
		c := newTestCache(t, "url: "+srv.URL()+`
retries:
  initial_interval: 20ms
  max_interval: 100ms
  max_elapsed_time: 20s
`)
		hook := failureHook{failed: make(chan error, 1)}
		c.client.AddHook(hook)
		require.NoError(t, c.Set(ctx, "before", []byte("1"), nil))

		srv.Stop()
		done := make(chan error, 1)
		go func() { done <- c.Set(ctx, "during", []byte("2"), nil) }()
		select {
		case err := <-hook.failed:
			t.Logf("cache saw Redis down: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("the cache never failed to reach the stopped Redis")
		}
		srv.Restart()
		select {
		case err := <-done:
			require.NoError(t, err, "Set started during the outage succeeds once Redis is back")
		case <-time.After(20 * time.Second):
			t.Fatal("Set did not return after Redis came back")
		}
		got, err := srv.Do("GET", "during")
		require.NoError(t, err)
		assert.Equal(t, "2", got)
	})

	t.Run("gives up after max_elapsed_time", func(t *testing.T) {
		c := newTestCache(t, "url: "+srv.URL()+`
retries:
  initial_interval: 20ms
  max_interval: 50ms
  max_elapsed_time: 300ms
`)
		srv.Stop()
		t.Cleanup(srv.Restart)
		tests := []struct {
			name string
			op   func() error
		}{
			{"get", func() error { _, err := c.Get(ctx, "k"); return err }},
			{"set", func() error { return c.Set(ctx, "k", []byte("v"), nil) }},
			{"add", func() error { return c.Add(ctx, "k", []byte("v"), nil) }},
			{"delete", func() error { return c.Delete(ctx, "k") }},
		}
		for _, tt := range tests {
			err := tt.op()
			require.Error(t, err, tt.name)
			assert.NotErrorIs(t, err, service.ErrKeyNotFound, tt.name)
			assert.NotErrorIs(t, err, service.ErrKeyAlreadyExists, tt.name)
			assert.Contains(t, err.Error(), "redis "+tt.name, tt.name)
		}
	})

	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		c := newTestCache(t, "url: "+srv.URL()+`
retries:
  initial_interval: 20ms
  max_interval: 50ms
  max_elapsed_time: 1h
`)
		srv.Stop()
		t.Cleanup(srv.Restart)
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := c.Get(cctx, "k")
		assert.Error(t, err)
		assert.ErrorIs(t, cctx.Err(), context.DeadlineExceeded)
	})
}

func TestRedisCache_Cluster(t *testing.T) {
	// A one-node Redis Cluster that owns every slot.
	srv := redistest.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	_, err := srv.Do("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
	require.NoError(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := srv.Do("CLUSTER", "INFO")
		require.NoError(t, err)
		if strings.Contains(v.(string), "cluster_state:ok") {
			break
		}
		require.True(t, time.Now().Before(deadline), "cluster state not ok: %v", v)
		time.Sleep(50 * time.Millisecond) // polling the server's state
	}

	c := newTestCache(t, "kind: cluster\nurl: "+srv.URL()+"\nprefix: 'c:'\n")
	_, ok := c.client.(*redis.ClusterClient)
	require.True(t, ok, "kind cluster builds a cluster client, got %T", c.client)
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "k", []byte("v"), nil))
	got, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
	assert.ErrorIs(t, c.Add(ctx, "k", []byte("w"), nil), service.ErrKeyAlreadyExists)
	_, err = c.Get(ctx, "missing")
	assert.ErrorIs(t, err, service.ErrKeyNotFound)
}

func TestRedisCache_ClientName(t *testing.T) {
	srv := redistest.Start(t)
	tests := []struct{ name, yaml, want string }{
		{name: "default", want: "benthos-sse"},
		{name: "configured", yaml: "client_name: ingest-eu\n", want: "ingest-eu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(t, "url: "+srv.URL()+"\n"+tt.yaml)
			require.NoError(t, c.Set(context.Background(), "k", []byte("v"), nil))
			list, err := srv.Do("CLIENT", "LIST")
			require.NoError(t, err)
			assert.Contains(t, list, "name="+tt.want+" ")
		})
	}
}

func TestRedisCache_ConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{name: "bad scheme", yaml: "url: http://127.0.0.1:6379", want: "invalid URL scheme"},
		{name: "several urls for simple", yaml: "url: redis://a:1,redis://b:2", want: `2 URLs given, but kind "simple" takes one`},
		{name: "database in cluster", yaml: "kind: cluster\nurl: redis://a:1/3", want: "a Redis Cluster has only database 0"},
		{name: "failover without master", yaml: "kind: failover\nurl: redis://a:26379", want: `field "master": required when kind is "failover"`},
		{name: "negative default_ttl", yaml: "url: redis://a:1\ndefault_ttl: -1s", want: `field "default_ttl": -1s is negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := redisCacheSpec().ParseYAML(tt.yaml, nil)
			require.NoError(t, err)
			c, err := newRedisCacheFromConfig(conf)
			if err == nil {
				_ = c.Close(context.Background())
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestRedisCache_Kinds(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(t *testing.T, c redis.UniversalClient)
	}{
		{name: "simple", yaml: "url: redis://u:pw@127.0.0.1:1/2", check: func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			assert.Equal(t, "127.0.0.1:1", o.Addr)
			assert.Equal(t, "u", o.Username)
			assert.Equal(t, "pw", o.Password)
			assert.Equal(t, 2, o.DB)
			assert.Nil(t, o.TLSConfig)
		}},
		{name: "rediss means TLS", yaml: "url: rediss://127.0.0.1:1", check: func(t *testing.T, c redis.UniversalClient) {
			assert.NotNil(t, c.(*redis.Client).Options().TLSConfig)
		}},
		{name: "tls field", yaml: "url: redis://127.0.0.1:1\ntls: {enabled: true, skip_cert_verify: true}", check: func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			require.NotNil(t, o.TLSConfig)
			assert.True(t, o.TLSConfig.InsecureSkipVerify)
		}},
		{name: "cluster seeds", yaml: "kind: cluster\nurl: redis://:pw@127.0.0.1:1, redis://127.0.0.1:2", check: func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.ClusterClient).Options()
			assert.Equal(t, []string{"127.0.0.1:1", "127.0.0.1:2"}, o.Addrs)
			assert.Equal(t, "pw", o.Password)
		}},
		{name: "failover", yaml: "kind: failover\nmaster: mymaster\nurl: redis://:pw@127.0.0.1:1/4,redis://127.0.0.1:2", check: func(t *testing.T, c redis.UniversalClient) {
			// A failover client is a *redis.Client whose dialer asks the
			// Sentinels; its options carry the master's credentials and DB.
			o := c.(*redis.Client).Options()
			assert.Equal(t, "pw", o.Password)
			assert.Equal(t, 4, o.DB)
			assert.Equal(t, "FailoverClient", o.Addr, "go-redis names the failover client's address")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCache(t, tt.yaml)
			tt.check(t, c.client)
		})
	}
}

func TestRedisCache_Lint(t *testing.T) {
	env := service.NewEmptyEnvironment()
	require.NoError(t, env.RegisterCache("redis", redisCacheSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.Cache, error) {
			return newRedisCacheFromConfig(conf)
		}))
	tests := []struct {
		name, yaml, want string
	}{
		{name: "failover needs master", yaml: "kind: failover\nurl: redis://127.0.0.1:26379", want: "field master is required when kind is failover"},
		{name: "unknown kind", yaml: "kind: sharded\nurl: redis://127.0.0.1:1", want: "sharded"},
		{name: "valid failover", yaml: "kind: failover\nmaster: mymaster\nurl: redis://127.0.0.1:26379"},
		{name: "valid simple", yaml: "url: redis://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := env.NewStreamBuilder()
			err := b.AddCacheYAML("label: c\nredis:\n  " + strings.ReplaceAll(tt.yaml, "\n", "\n  "))
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestRedisCache_ConnectConfig runs the full (advanced) config from Redpanda
// Connect's redis cache documentation, empty strings included: a Connect
// config carries over.
func TestRedisCache_ConnectConfig(t *testing.T) {
	srv := redistest.Start(t)
	c := newTestCache(t, "url: "+srv.URL()+`
kind: simple
master: ""
client_name: redpanda-connect
tls:
  enabled: false
  skip_cert_verify: false
  enable_renegotiation: false
  root_cas: ""
  root_cas_file: ""
  client_certs: []
prefix: ""
default_ttl: ""
retries:
  initial_interval: 500ms
  max_interval: 1s
  max_elapsed_time: 5s
`)
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "k", []byte("v"), nil))
	v, err := srv.Do("PTTL", "k")
	require.NoError(t, err)
	assert.Equal(t, int64(-1), v, `default_ttl: "" means no expiry`)
	list, err := srv.Do("CLIENT", "LIST")
	require.NoError(t, err)
	assert.Contains(t, list, "name=redpanda-connect ")
}

// TestRedisCache_Failover runs kind failover against a real Sentinel: the
// cache asks it for the master and writes there.
func TestRedisCache_Failover(t *testing.T) {
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, master, "mymaster")
	ctx := context.Background()

	c := newTestCache(t, "kind: failover\nmaster: mymaster\nurl: "+sentinel.URL()+"\nprefix: 'f:'\n")
	require.NoError(t, c.Set(ctx, "k", []byte("v"), nil))
	raw, err := master.Do("GET", "f:k")
	require.NoError(t, err)
	assert.Equal(t, "v", raw, "the value is on the master the Sentinel names")
	got, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
	assert.ErrorIs(t, c.Add(ctx, "k", []byte("w"), nil), service.ErrKeyAlreadyExists)

	unknown := newTestCache(t, "kind: failover\nmaster: nosuchmaster\nurl: "+sentinel.URL()+`
retries: {initial_interval: 10ms, max_interval: 20ms, max_elapsed_time: 100ms}
`)
	_, err = unknown.Get(ctx, "k")
	require.Error(t, err, "a master the Sentinel does not know")
	assert.NotErrorIs(t, err, service.ErrKeyNotFound)
}

// TestRedisCache_GoRedisLogsToBenthos checks that go-redis' own messages
// (here: failing to dial a Redis that is down) go to the Benthos logger at
// debug level, not to stderr in go-redis' format.
func TestRedisCache_GoRedisLogsToBenthos(t *testing.T) {
	var buf syncbuf.Buffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	conf, err := redisCacheSpec().ParseYAML(`url: redis://127.0.0.1:1
retries: {initial_interval: 10ms, max_interval: 10ms, max_elapsed_time: 50ms}
`, nil)
	require.NoError(t, err)
	c, err := newRedisCache(conf, service.MockResources(service.MockResourcesOptUseLogger(logger)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })

	_, err = c.Get(context.Background(), "k")
	require.Error(t, err)
	assert.Regexp(t, `level=DEBUG msg="redis: connection pool: failed to dial`, buf.String())
}
