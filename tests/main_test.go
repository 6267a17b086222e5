// Package tests holds black-box tests: they build the benthos-sse binary and
// run it, or the registered sse input, against servers on 127.0.0.1.
package tests

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/benthos-sse/benthos-sse/internal/syncbuf"
)

// binPath is the benthos-sse binary built once for the whole package by
// TestMain.
var binPath string

// repoRoot is the repository's top directory, where resources/ lives.
var repoRoot string

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	dir, err := os.MkdirTemp("", "benthos-sse-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "benthos-sse")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/benthos-sse")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building benthos-sse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ---------------------------------------------------------------------------
// The one runner of the binary: startBin for a process the test drives
// (signals, kills, waits), runBin and runBinStdin for a command that ends by
// itself.

// binTimeout bounds every run of the binary that ends by itself. Those
// commands end in well under a second; it is only a failure bound.
const binTimeout = 30 * time.Second

// binOpts says how to start the binary.
type binOpts struct {
	// Dir is the working directory; empty means the repository root.
	Dir string
	// Env holds extra NAME=value pairs; Drop names variables to remove from
	// the inherited environment, so a test does not depend on the
	// developer's shell.
	Env, Drop []string
	// Stdin is the process' standard input (nil: none).
	Stdin io.Reader
}

// binProc is a running benthos-sse.
type binProc struct {
	t              testing.TB
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	all            *syncbuf.Buffer // stdout and stderr interleaved
	done           chan struct{}
}

// startBin starts benthos-sse with args; it is killed if still running when
// the test (or benchmark) ends.
func startBin(t testing.TB, o binOpts, args ...string) *binProc {
	t.Helper()
	p := &binProc{t: t, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, all: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binPath, args...)
	p.cmd.Dir = o.Dir
	if p.cmd.Dir == "" {
		p.cmd.Dir = repoRoot
	}
	p.cmd.Stdin = o.Stdin
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !slices.Contains(o.Drop, name) {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, o.Env...)
	p.cmd.Stdout = io.MultiWriter(p.stdout, p.all)
	p.cmd.Stderr = io.MultiWriter(p.stderr, p.all)
	require.NoError(t, p.cmd.Start(), "starting benthos-sse %s", strings.Join(args, " "))
	go func() {
		_ = p.cmd.Wait() // the exit code is read from ProcessState
		close(p.done)
	}()
	t.Cleanup(p.Kill)
	return p
}

// Kill kills the process if it is still running and waits for it to exit.
func (p *binProc) Kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// startBinary runs `benthos-sse run config` in the repository root.
func startBinary(t *testing.T, config string) *binProc {
	t.Helper()
	return startBin(t, binOpts{}, "run", config)
}

// startBinaryIn is startBinary with dir as the working directory, as for an
// instance started on another machine.
func startBinaryIn(t *testing.T, dir, config string) *binProc {
	t.Helper()
	return startBin(t, binOpts{Dir: dir}, "run", config)
}

// Output returns stdout and stderr so far, interleaved: Benthos logs to
// stdout by default, while lint and start-up errors go to stderr.
func (p *binProc) Output() string { return p.all.String() }

// Signal sends sig and waits for the process to exit; it returns the exit
// code (-1 when killed by a signal).
func (p *binProc) Signal(sig os.Signal) int {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(sig))
	return p.Wait(waitLimit)
}

// Wait waits for the process to exit by itself and returns its exit code.
func (p *binProc) Wait(limit time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		p.t.Fatalf("benthos-sse did not exit within %v; output:\n%s", limit, p.Output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// Exited reports whether the process has exited.
func (p *binProc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// binResult is what one run of the binary produced.
type binResult struct {
	stdout, stderr string
	code           int
}

// output is stdout and stderr together.
func (r binResult) output() string { return r.stdout + r.stderr }

// runBin runs the benthos-sse binary with args in dir until it exits by
// itself (failing the test after binTimeout). env holds extra NAME=value
// pairs; drop names variables to remove from the inherited environment.
func runBin(t testing.TB, dir string, env, drop []string, args ...string) binResult {
	t.Helper()
	return runBinStdin(t, dir, nil, env, drop, args...)
}

// runBinStdin is runBin with stdin read from in (nil: no input).
func runBinStdin(t testing.TB, dir string, in io.Reader, env, drop []string, args ...string) binResult {
	t.Helper()
	p := startBin(t, binOpts{Dir: dir, Env: env, Drop: drop, Stdin: in}, args...)
	code := p.Wait(binTimeout)
	return binResult{stdout: p.stdout.String(), stderr: p.stderr.String(), code: code}
}

// writeConfigFile writes yaml, a config for the binary, to name in dir (a
// new temporary directory when dir is empty) and returns its path: the one
// way the tests write a config file.
func writeConfigFile(t testing.TB, dir, name, yaml string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}
