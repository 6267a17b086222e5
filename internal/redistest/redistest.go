// Package redistest runs a real Redis for tests: Debian's redis-server,
// started on a free 127.0.0.1 port with persistence off (--save "",
// --appendonly no) in a temporary directory, and stopped when the test ends.
//
// A test that needs Redis calls [Start]. When the redis-server binary is
// missing, the test is skipped, except under CI=true, where it fails: CI
// installs redis-server (see .ci/run), so a missing binary there is a broken
// setup, not a reason to pass. [Server.Stop] and [Server.Restart] simulate an
// outage on the same address, so that clients configured with it reconnect.
//
// The package imports only the standard library, so any test in the module can
// use it without pulling a Redis client into the build.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/benthos-sse/benthos-sse/internal/freeport"
	"github.com/benthos-sse/benthos-sse/internal/syncbuf"
)

// serverBinary is the command Start runs; tests of this package replace it to
// exercise the missing-binary path.
var serverBinary = "redis-server"

// startTimeout bounds how long Start and Restart wait for the server to answer
// PING, and stopTimeout how long Stop waits after SIGTERM before SIGKILL.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
)

// Server is one redis-server process owned by a test. Its address stays the
// same across Stop and Restart. The zero value is not usable; call [Start].
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	args []string
	port int
	// conf, when set, is a config file passed first, as Sentinel needs.
	conf string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *syncbuf.Buffer
}

// Start runs a redis-server on a free 127.0.0.1 port, waits until it answers
// PING, and registers a t.Cleanup that stops it. Extra arguments are passed
// after the defaults, so they can add settings or override them, for example
// "--cluster-enabled", "yes". It skips the test when the
// binary is missing, or fails it when the environment variable CI is "true".
// Start returns nil only after t.Skip or t.Fatal have been called (which stop
// the test's goroutine in a real test).
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	bin, ok := lookBinary(t)
	if !ok {
		return nil
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), args: extraArgs}
	if !s.startOnFreePort() {
		return nil
	}
	return s
}

// StartSentinel runs a Redis Sentinel (redis-server --sentinel) on a free
// 127.0.0.1 port that monitors master under masterName with a quorum of one,
// as for a `kind: failover` client, and stops it when the test ends. It skips
// or fails like [Start] when redis-server is missing.
func StartSentinel(t testing.TB, master *Server, masterName string) *Server {
	t.Helper()
	bin, ok := lookBinary(t)
	if !ok {
		return nil
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), args: []string{"--sentinel"}}
	// Sentinel rewrites its config file with what it learns, so it lives in
	// the server's own directory.
	s.conf = filepath.Join(s.dir, "sentinel.conf")
	host, port, _ := net.SplitHostPort(master.Addr())
	conf := fmt.Sprintf("sentinel monitor %s %s %s 1\n", masterName, host, port)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatalf("redistest: writing %s: %v", s.conf, err)
		return nil
	}
	if !s.startOnFreePort() {
		return nil
	}
	return s
}

// lookBinary finds redis-server, or skips or fails the test.
func lookBinary(t testing.TB) (string, bool) {
	t.Helper()
	bin, err := exec.LookPath(serverBinary)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: %s not found (CI=true, so this fails instead of skipping; install it with apt-get install -y redis-server): %v", serverBinary, err)
		} else {
			t.Skipf("redistest: %s not found, skipping (apt-get install -y redis-server): %v", serverBinary, err)
		}
		return "", false
	}
	return bin, true
}

// startOnFreePort starts s on a free port; it reports false after failing
// the test.
func (s *Server) startOnFreePort() bool {
	t := s.t
	t.Helper()
	t.Cleanup(s.Stop)

	// A port found free may be taken by someone else before redis-server binds
	// it; try a few fresh ports before giving up.
	var lastErr error
	for range 3 {
		port, err := freeport.Port()
		if err != nil {
			t.Fatalf("redistest: finding a free port: %v", err)
			return false
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			return true
		}
	}
	t.Fatalf("redistest: starting redis-server: %v", lastErr)
	return false
}

// Addr returns the server's host:port, for example 127.0.0.1:40123.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL returns a redis:// URL for the server, as used by a `redis` cache's url
// field.
func (s *Server) URL() string {
	return "redis://" + s.Addr()
}

// Stop terminates the server (SIGTERM, then SIGKILL after a bound) and waits
// until it has exited, so that the port refuses connections when Stop returns.
// With persistence off, its data is gone. Stop is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// Restart starts a stopped server again on the same address and waits until it
// answers PING; a running server is stopped first. The new server starts
// empty. It fails the test if the server cannot start.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restarting redis-server on %s: %v", s.Addr(), err)
	}
}

// Ping sends PING and returns an error unless the server answers PONG.
func (s *Server) Ping() error {
	v, err := s.Do("PING")
	if err != nil {
		return err
	}
	if v != "PONG" {
		return fmt.Errorf("redistest: PING answered %q", v)
	}
	return nil
}

// Do sends one command on a new connection and returns the reply: a string for
// a simple or bulk string, an int64 for an integer, nil for a null reply, and
// []any for an array. An error reply is returned as an error. It lets tests
// inspect keys without a Redis client library.
func (s *Server) Do(args ...string) (any, error) {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, err
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write(req.Bytes()); err != nil {
		return nil, err
	}
	return readReply(bufio.NewReader(c))
}

// Log returns what redis-server has written to its standard output and error
// since it last started, for failure messages.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// start runs redis-server on s.port and waits for PING. On failure the process
// is stopped and the error includes its output.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	log := &syncbuf.Buffer{}
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
	}, s.args...)
	if s.conf != "" {
		args = append([]string{s.conf}, args...)
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done, s.log = cmd, done, log

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			s.cmd, s.done = nil, nil
			return fmt.Errorf("redis-server exited before answering PING: %s", log.String())
		default:
		}
		if err := s.Ping(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("no PONG within %s (%v): %s", startTimeout, err, log.String())
		}
		timer := time.NewTimer(20 * time.Millisecond)
		select {
		case <-done:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

// freePort asks the kernel for a free 127.0.0.1 TCP port.
// errProtocol reports a reply this package cannot parse.
var errProtocol = errors.New("redistest: malformed reply")

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, errProtocol
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return body, nil
	case '-':
		return nil, fmt.Errorf("redis: %s", body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		// The bulk-string and array arms open alike on purpose: RESP gives
		// both the same length header, with -1 for nil, and each arm reads
		// as its line of the protocol.
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, errProtocol
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, errProtocol
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, 0, n)
		for range n {
			v, err := readReply(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, errProtocol
}
