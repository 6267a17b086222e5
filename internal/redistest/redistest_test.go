package redistest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestServer_StartStopRestart(t *testing.T) {
	s := Start(t)
	addr := s.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1:port", addr)
	}
	if got, want := s.URL(), "redis://"+addr; got != want {
		t.Fatalf("URL() = %q, want %q", got, want)
	}
	if _, err := s.Do("SET", "k", "v"); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if v, err := s.Do("GET", "k"); err != nil || v != "v" {
		t.Fatalf("GET k = %v, %v; want v", v, err)
	}
	// Persistence is off: the server runs with save "" and appendonly no.
	for _, tt := range []struct{ param, want string }{{"save", ""}, {"appendonly", "no"}, {"bind", "127.0.0.1"}} {
		v, err := s.Do("CONFIG", "GET", tt.param)
		if err != nil {
			t.Fatalf("CONFIG GET %s: %v", tt.param, err)
		}
		if got := fmt.Sprint(v); got != fmt.Sprint([]any{tt.param, tt.want}) {
			t.Fatalf("CONFIG GET %s = %v, want [%s %s]", tt.param, got, tt.param, tt.want)
		}
	}

	s.Stop()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", addr)
	}
	s.Stop() // idempotent

	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("Restart moved the server from %s to %s", addr, s.Addr())
	}
	if err := s.Ping(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if v, err := s.Do("GET", "k"); err != nil || v != nil {
		t.Fatalf("GET k after Restart = %v, %v; want nil (no persistence)", v, err)
	}
}

func TestServer_Do(t *testing.T) {
	s := Start(t)
	tests := []struct {
		name    string
		args    []string
		want    any
		wantErr string
	}{
		{name: "simple string", args: []string{"SET", "a", "1"}, want: "OK"},
		{name: "bulk string", args: []string{"GET", "a"}, want: "1"},
		{name: "integer", args: []string{"INCR", "a"}, want: int64(2)},
		{name: "null", args: []string{"GET", "missing"}, want: nil},
		{name: "array", args: []string{"KEYS", "a*"}, want: []any{"a"}},
		{name: "error", args: []string{"NOSUCHCOMMAND"}, wantErr: "ERR unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Do(tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Do(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do(%q): %v", tt.args, err)
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
				t.Fatalf("Do(%q) = %#v, want %#v", tt.args, got, tt.want)
			}
		})
	}
}

// recorder is a testing.TB that records Skipf and Fatalf instead of stopping
// the goroutine, so the missing-binary path can be checked.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestStart_MissingBinary(t *testing.T) {
	old := serverBinary
	serverBinary = "redis-server-that-does-not-exist"
	t.Cleanup(func() { serverBinary = old })

	tests := []struct {
		name                 string
		ci                   string
		wantSkip, wantFailed bool
	}{
		{name: "locally skips", ci: "", wantSkip: true},
		{name: "CI=false skips", ci: "false", wantSkip: true},
		{name: "CI=true fails", ci: "true", wantFailed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			if s := Start(r); s != nil {
				t.Fatalf("Start returned a server for a missing binary")
			}
			if (r.skipped != "") != tt.wantSkip || (r.failed != "") != tt.wantFailed {
				t.Fatalf("skipped=%q failed=%q; want skip %v, fail %v", r.skipped, r.failed, tt.wantSkip, tt.wantFailed)
			}
			if msg := r.skipped + r.failed; !strings.Contains(msg, "apt-get install -y redis-server") {
				t.Fatalf("message %q does not say how to install redis-server", msg)
			}
		})
	}
}

func TestStart_ExtraArgs(t *testing.T) {
	s := Start(t, "--maxmemory", "1mb", "--appendonly", "yes")
	for _, tt := range []struct{ param, want string }{{"maxmemory", "1048576"}, {"appendonly", "yes"}} {
		v, err := s.Do("CONFIG", "GET", tt.param)
		if err != nil {
			t.Fatalf("CONFIG GET %s: %v", tt.param, err)
		}
		if got := fmt.Sprint(v); got != fmt.Sprint([]any{tt.param, tt.want}) {
			t.Fatalf("CONFIG GET %s = %v, want [%s %s]", tt.param, got, tt.param, tt.want)
		}
	}
}

func TestStartSentinel(t *testing.T) {
	master := Start(t)
	sentinel := StartSentinel(t, master, "mymaster")
	v, err := sentinel.Do("SENTINEL", "get-master-addr-by-name", "mymaster")
	if err != nil {
		t.Fatalf("SENTINEL get-master-addr-by-name: %v", err)
	}
	host, port, _ := net.SplitHostPort(master.Addr())
	if got, want := fmt.Sprint(v), fmt.Sprint([]any{host, port}); got != want {
		t.Fatalf("sentinel names master %v, want %v", got, want)
	}
	// Restart keeps it a sentinel of the same master.
	sentinel.Restart()
	if v, err := sentinel.Do("SENTINEL", "get-master-addr-by-name", "mymaster"); err != nil || fmt.Sprint(v) != fmt.Sprint([]any{host, port}) {
		t.Fatalf("after Restart: %v, %v", v, err)
	}
}
