package sse

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps_StandardLibraryOnly keeps package sse free of dependencies: the
// non-test code may import only the standard library, so that it can be
// vendored or reused without Benthos.
func TestDeps_StandardLibraryOnly(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	const self = "github.com/benthos-sse/benthos-sse/sse"
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var found bool
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != self {
			t.Errorf("package sse depends on %s, want the standard library only", pkg)
		}
		found = found || pkg == self
	}
	if !found {
		t.Fatalf("go list printed %q, want it to list %s itself", out, self)
	}
}
