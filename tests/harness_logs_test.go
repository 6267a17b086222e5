package tests

// Log capture: a slog.Handler that keeps every record for the test to
// wait for and inspect.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// logRecord is one captured log line.
type logRecord struct {
	Level slog.Level
	Msg   string // the message and every attribute, as one line
	At    time.Time
}

// logCapture is a slog.Handler that keeps every record.
type logCapture struct {
	mu      sync.Mutex
	records []logRecord
	notify  chan struct{}
	attrs   []slog.Attr
	root    *logCapture
}

func newLogCapture() *logCapture {
	l := &logCapture{notify: make(chan struct{}, 1)}
	l.root = l
	return l
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range l.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	root := l.root
	root.mu.Lock()
	root.records = append(root.records, logRecord{Level: r.Level, Msg: b.String(), At: time.Now()})
	root.mu.Unlock()
	select {
	case root.notify <- struct{}{}:
	default:
	}
	return nil
}

func (l *logCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logCapture{root: l.root, attrs: append(slices.Clip(l.attrs), attrs...)}
}

func (l *logCapture) WithGroup(string) slog.Handler { return l }

// Matching returns the records whose line contains every one of subs.
func (l *logCapture) Matching(subs ...string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRecord
	for _, r := range l.records {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(r.Msg, s)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// All returns every captured line.
func (l *logCapture) All() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.records {
		fmt.Fprintf(&b, "%s %s\n", r.Level, r.Msg)
	}
	return b.String()
}

// WaitFor waits until n records match subs and returns them.
func (l *logCapture) WaitFor(t *testing.T, n int, subs ...string) []logRecord {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		if m := l.Matching(subs...); len(m) >= n {
			return m
		}
		select {
		case <-l.notify:
		case <-deadline:
			t.Fatalf("waited %v for %d log lines containing %q; logs:\n%s", waitLimit, n, subs, l.All())
		}
	}
}
