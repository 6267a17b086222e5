package main

import (
	"errors"
	"runtime/debug"
	"testing"
	"time"
)

func TestBuildVersion(t *testing.T) {
	written := time.Date(2026, 12, 1, 10, 30, 0, 0, time.FixedZone("CET", 3600))
	exeTime := func() (time.Time, error) { return written, nil }
	vcs := func(rev, at, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: at},
			{Key: "vcs.modified", Value: modified},
		}
	}
	const rev = "a8de9bc0e2062125755a53685e3603a925f9e816"
	tests := []struct {
		name              string
		ldVersion, ldDate string
		bi                *debug.BuildInfo
		exeErr            error
		wantVersion       string
		wantDate          string
	}{
		{
			name:        "go install module@version: the tag, and when the binary was written",
			bi:          &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}},
			wantVersion: "v1.2.0", wantDate: "2026-12-01T09:30:00Z",
		},
		{
			name: "build in a git clone: pseudo-version and commit time",
			bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201093724-a8de9bc0e206"},
				Settings: vcs(rev, "2026-12-01T09:37:24Z", "false")},
			wantVersion: "v0.0.0-20261201093724-a8de9bc0e206", wantDate: "2026-12-01T09:37:24Z",
		},
		{
			name: "VCS stamped but no module version: the revision",
			bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
				Settings: vcs(rev, "2026-12-01T09:37:24Z", "true")},
			wantVersion: "devel-a8de9bc0e206+dirty", wantDate: "2026-12-01T09:37:24Z",
		},
		{
			name:        "no VCS information (-buildvcs=false)",
			bi:          &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			wantVersion: "(devel)", wantDate: "2026-12-01T09:30:00Z",
		},
		{
			name:      "ldflags win",
			ldVersion: "v2.0.0-rc1", ldDate: "2026-11-30",
			bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201093724-a8de9bc0e206"},
				Settings: vcs(rev, "2026-12-01T09:37:24Z", "false")},
			wantVersion: "v2.0.0-rc1", wantDate: "2026-11-30",
		},
		{
			name:        "no build info at all",
			wantVersion: "(devel)", wantDate: "2026-12-01T09:30:00Z",
		},
		{
			name:        "executable not found",
			bi:          &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}},
			exeErr:      errors.New("no such file"),
			wantVersion: "v1.2.0", wantDate: "not recorded (no such file)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			et := exeTime
			if tt.exeErr != nil {
				et = func() (time.Time, error) { return time.Time{}, tt.exeErr }
			}
			v, d := buildVersion(tt.ldVersion, tt.ldDate, tt.bi, et)
			if v != tt.wantVersion || d != tt.wantDate {
				t.Fatalf("buildVersion = %q, %q; want %q, %q", v, d, tt.wantVersion, tt.wantDate)
			}
		})
	}
}
