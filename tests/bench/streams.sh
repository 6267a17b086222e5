#!/usr/bin/env bash
# streams.sh measures what an open, mostly idle stream costs: N = 100, 1,000
# and 10,000 concurrent streams in one client process against a local server
# (a separate process, on several ports of 127.0.0.1) emitting one event per
# second per stream. For each N it reports the client process's resident
# memory, goroutines and CPU per event, for one sse input with a `streams`
# list of N streams, a Benthos broker of N sse inputs, a broker of N generate
# inputs (Benthos' own per-input cost) and N tmaxmax/go-sse connections, in
# the same run. See cmd/streams.
#
# Usage: tests/bench/streams.sh [-n 100,1000,10000] [-window 10s] [-rounds 1]
#        [-clients list,sse,generate,go-sse] [-heap DIR] [-cpuprofile DIR]
#        [-memlimit 450MiB] (flags of
#        cmd/streams). About four minutes per round.
set -euo pipefail
cd "$(dirname "$0")"
# Every stream is a socket in the client and one in the server: raise the
# soft open-file limit to the hard one.
ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d -t sse-streams.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
(cd ../.. && go build -o "$tmp/benthos-sse" ./cmd/benthos-sse)
go build -o "$tmp/gossestreams" ./cmd/gossestreams
go build -o "$tmp/streams" ./cmd/streams
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- ../../sse ../../input 2>/dev/null || rev="$rev + uncommitted changes in sse/ or input/"
echo "Code: $rev, $(go version | cut -d' ' -f3-)"
echo "Command: tests/bench/streams.sh $*"
"$tmp/streams" -benthos "$tmp/benthos-sse" -gosse "$tmp/gossestreams" "$@"
