package main

import (
	"os"
	"runtime/debug"
	"time"
)

// Version and DateBuilt override what --version (and the HTTP server's
// /version) report, when set at build time:
//
//	go build -ldflags "-X main.Version=v1.2.0 -X main.DateBuilt=2026-12-01T10:00:00Z" ./cmd/benthos-sse
//
// Left empty, the values come from the build information the Go toolchain
// records in the binary; see [buildVersion].
var (
	Version   string
	DateBuilt string
)

// develVersion is what the Go toolchain records as the main module's version
// when it has none: a build from a source tree without VCS stamping.
const develVersion = "(devel)"

// version returns the binary's version and build date.
func version() (string, string) {
	bi, _ := debug.ReadBuildInfo()
	return buildVersion(Version, DateBuilt, bi, executableTime)
}

// buildVersion picks the version and date to report, in this order:
//   - -ldflags -X values (Version, DateBuilt) when set;
//   - the main module's version: the tag for `go install <module>/cmd/benthos-sse@v1.2.0`,
//     or, for a build in a git clone (Go 1.24 and later), a pseudo-version
//     v0.0.0-<commit time>-<revision> with "+dirty" for uncommitted changes;
//   - else the VCS revision, if one was stamped;
//   - else "(devel)": built from a tree without VCS information
//     (-buildvcs=false, or a git worktree, which Go does not stamp).
//
// The date is the commit time (vcs.time) when stamped, else the time the
// executable was written (when it was built or installed), in UTC RFC 3339.
func buildVersion(ldVersion, ldDate string, bi *debug.BuildInfo, exeTime func() (time.Time, error)) (version, date string) {
	var revision, commitTime string
	modified := false
	if bi != nil {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				commitTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if version == "" || version == develVersion {
		version = develVersion
		if revision != "" {
			version = "devel-" + shortRevision(revision)
			if modified {
				version += "+dirty"
			}
		}
	}
	if ldVersion != "" {
		version = ldVersion
	}

	switch {
	case ldDate != "":
		date = ldDate
	case commitTime != "":
		date = commitTime
	default:
		if t, err := exeTime(); err == nil {
			date = t.UTC().Format(time.RFC3339)
		} else {
			date = "not recorded (" + err.Error() + ")"
		}
	}
	return version, date
}

func shortRevision(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}

// executableTime is the modification time of the running binary.
func executableTime() (time.Time, error) {
	exe, err := os.Executable()
	if err != nil {
		return time.Time{}, err
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}
