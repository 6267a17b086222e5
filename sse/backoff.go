package sse

import (
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
)

// backoff is the reconnection policy: the one place that decides how long
// to wait before the next connection attempt, and when to stop trying. It
// combines the reconnection time (the server's retry field, or
// [Options.ReconnectionTime]) with backoff across consecutive failures,
// jitter, the server's Retry-After, the floor and cap, the slow statuses,
// and the give-up time, all from [Options].
//
// The goroutine in [EventSource.Next] owns it; only delay, which
// [EventSource.ReconnectDelay] reports, is read from other goroutines.
type backoff struct {
	factor, jitter float64
	floor, limit   time.Duration // MinReconnectionTime, MaxReconnectionTime
	maxElapsed     time.Duration
	slowStatuses   []int

	failures   int           // consecutive failed attempts since the last open
	retryAfter time.Duration // the last failed response's Retry-After
	slow       bool          // the last failed response's status is a slow one
	failingAt  time.Time     // the first failure since the last open, or zero

	wait    bool      // the next attempt waits until retryAt
	retryAt time.Time // kept, so a wait resumed after a cancel waits only what is left

	delay atomic.Int64 // the wait chosen last, in nanoseconds
}

// newBackoff returns the policy opts configure; opts has its defaults.
func newBackoff(opts *Options) backoff {
	return backoff{
		factor:       opts.BackoffFactor,
		jitter:       min(opts.Jitter, 1),
		floor:        opts.MinReconnectionTime,
		limit:        opts.MaxReconnectionTime,
		maxElapsed:   opts.MaxElapsedTime,
		slowStatuses: slices.Clone(opts.SlowRetryStatuses),
	}
}

// opened records a successful open: the failures before it are forgotten.
func (b *backoff) opened() {
	b.failures, b.retryAfter, b.slow, b.failingAt = 0, 0, false, time.Time{}
}

// lost records that an open connection was lost, which starts the time
// spent failing (see [Options.MaxElapsedTime]) but is not a failed attempt.
func (b *backoff) lost(now time.Time) {
	if b.failingAt.IsZero() {
		b.failingAt = now
	}
}

// failed records a failed connection attempt; re is the response that
// failed it and is being retried, or nil for a network error. It returns
// how long connecting has kept failing, and false when that is too long:
// give up.
func (b *backoff) failed(now time.Time, re *ResponseError) (failing time.Duration, ok bool) {
	b.failures++
	b.retryAfter, b.slow = 0, false
	if re != nil {
		b.retryAfter = re.RetryAfter
		b.slow = slices.Contains(b.slowStatuses, re.StatusCode)
	}
	b.lost(now)
	failing = now.Sub(b.failingAt)
	return failing, b.maxElapsed <= 0 || failing < b.maxElapsed
}

// schedule picks the wait before the next attempt from reconnection time
// d, and returns it.
func (b *backoff) schedule(now time.Time, d time.Duration) time.Duration {
	d = b.next(d)
	b.wait, b.retryAt = true, now.Add(d)
	b.delay.Store(int64(d))
	return d
}

// skip lets the next attempt start at once, without waiting: the caller,
// not the server, ended the last connection.
func (b *backoff) skip() { b.wait = false }

// remaining is what is left of the wait before the next attempt.
func (b *backoff) remaining(now time.Time) time.Duration {
	if !b.wait {
		return 0
	}
	return max(b.retryAt.Sub(now), 0)
}

// next is the wait before the next attempt, for reconnection time d.
func (b *backoff) next(d time.Duration) time.Duration {
	limit := b.limit
	if b.slow {
		// A status that retrying soon will not fix: the longest wait.
		return limit
	}
	if b.factor > 1 {
		for i := 1; i < b.failures && d < limit; i++ {
			// Stop at the limit before converting, so that a huge limit
			// cannot overflow d (which would make it negative).
			if f := float64(d) * b.factor; f < float64(limit) {
				d = time.Duration(f)
			} else {
				d = limit
			}
		}
	}
	d = min(d, limit)
	if b.jitter > 0 {
		d -= time.Duration(float64(d) * b.jitter * rand.Float64())
	}
	// Retry-After is a floor the server asked for: jitter never shortens it
	// (the cap still applies).
	return max(d, min(b.retryAfter, limit), min(b.floor, limit))
}
