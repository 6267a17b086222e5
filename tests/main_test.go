// Package tests holds black-box tests: they build the benthos-sse binary and
// run it, or the registered sse input, against servers on 127.0.0.1.
package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
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
