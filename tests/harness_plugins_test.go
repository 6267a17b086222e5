package tests

// Test plugins, registered on a private environment so that the global one
// (which the docs and lint tests walk) stays as the binary has it.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

var (
	metricStores sync.Map // id -> *metricStore
	spyCaches    sync.Map // id -> *spyCache
)

// faultEnv is the global environment plus the `fault_metrics` exporter and
// the `fault_spy` cache.
var faultEnv = sync.OnceValue(func() *service.Environment {
	env := service.NewEnvironment()
	idSpec := service.NewConfigSpec().Field(service.NewStringField("id"))
	if err := env.RegisterMetricsExporter("fault_metrics", idSpec,
		func(conf *service.ParsedConfig, _ *service.Logger) (service.MetricsExporter, error) {
			return byID[*metricStore](&metricStores, conf, "metric store")
		}); err != nil {
		panic(err)
	}
	if err := env.RegisterCache("fault_spy", idSpec,
		func(conf *service.ParsedConfig, _ *service.Resources) (service.Cache, error) {
			return byID[*spyCache](&spyCaches, conf, "spy cache")
		}); err != nil {
		panic(err)
	}
	return env
})

// byID returns the plugin of a test that the config's `id` names in reg.
func byID[T any](reg *sync.Map, conf *service.ParsedConfig, what string) (T, error) {
	var zero T
	id, err := conf.FieldString("id")
	if err != nil {
		return zero, err
	}
	v, ok := reg.Load(id)
	if !ok {
		return zero, fmt.Errorf("no %s %q", what, id)
	}
	return v.(T), nil
}

// metricStore is a metrics exporter that keeps every counter and gauge in
// memory, keyed `name` or `name{key=value,...}`.
type metricStore struct {
	mu     sync.Mutex
	values map[string]int64
}

func newMetricStore(t *testing.T) (*metricStore, string) {
	s := &metricStore{values: map[string]int64{}}
	id := t.Name() + "/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	metricStores.Store(id, s)
	t.Cleanup(func() { metricStores.Delete(id) })
	return s, id
}

func metricKey(name string, keys, values []string) string {
	if len(keys) == 0 {
		return name
	}
	parts := make([]string, len(keys))
	for i := range keys {
		parts[i] = keys[i] + "=" + values[i]
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// Get returns the sum of the counters (or gauges) called name whose labels
// include every "key=value" of labels; Benthos adds `label` and `path`.
func (s *metricStore) Get(name string, labels ...string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum int64
	for k, v := range s.values {
		n, ls, _ := strings.Cut(strings.TrimSuffix(k, "}"), "{")
		if n != name {
			continue
		}
		have := strings.Split(ls, ",")
		ok := true
		for _, l := range labels {
			ok = ok && slices.Contains(have, l)
		}
		if ok {
			sum += v
		}
	}
	return sum
}

type metricFunc func(int64)

func (f metricFunc) Incr(n int64)   { f(n) }
func (f metricFunc) Set(n int64)    { f(n) }
func (f metricFunc) Timing(n int64) {}

func (s *metricStore) NewCounterCtor(name string, keys ...string) service.MetricsExporterCounterCtor {
	return func(values ...string) service.MetricsExporterCounter {
		k := metricKey(name, keys, values)
		return metricFunc(func(n int64) { s.mu.Lock(); s.values[k] += n; s.mu.Unlock() })
	}
}

func (s *metricStore) NewTimerCtor(name string, keys ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return metricFunc(nil) }
}

func (s *metricStore) NewGaugeCtor(name string, keys ...string) service.MetricsExporterGaugeCtor {
	return func(values ...string) service.MetricsExporterGauge {
		k := metricKey(name, keys, values)
		return metricFunc(func(n int64) { s.mu.Lock(); s.values[k] = n; s.mu.Unlock() })
	}
}

func (s *metricStore) Close(context.Context) error { return nil }

// spyCache is an in-memory cache that calls onSet, under its lock, with
// every value written: a test sees each checkpoint write as it happens.
type spyCache struct {
	mu     sync.Mutex
	values map[string][]byte
	onSet  func(key string, value []byte)
}

func newSpyCache(t *testing.T, onSet func(key string, value []byte)) (*spyCache, string) {
	c := &spyCache{values: map[string][]byte{}, onSet: onSet}
	id := t.Name() + "/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	spyCaches.Store(id, c)
	t.Cleanup(func() { spyCaches.Delete(id) })
	return c, id
}

func (c *spyCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.values[key]
	if !ok {
		return nil, service.ErrKeyNotFound
	}
	return slices.Clone(v), nil
}

func (c *spyCache) Set(_ context.Context, key string, value []byte, _ *time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.values[key] = slices.Clone(value)
	if c.onSet != nil {
		c.onSet(key, value)
	}
	return nil
}

func (c *spyCache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	if _, err := c.Get(ctx, key); err == nil {
		return service.ErrKeyAlreadyExists
	}
	return c.Set(ctx, key, value, ttl)
}

func (c *spyCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.values, key)
	return nil
}

func (c *spyCache) Close(context.Context) error { return nil }
