#!/usr/bin/env bash
# run.sh runs the tests/bench benchmarks (every library's parser on every
# corpus, the bufio bound, and every client over loopback HTTP) and prints
# the markdown comparison table of the medians of five samples, with the
# ratios to the fastest peer and to the bound, and which targets are met.
#
# It takes the samples of `go test -run '^$' -bench . -count 5 -benchmem`,
# but as five passes of -count 1 over all benchmarks from one test binary,
# so that a burst of load from other processes on the machine lands on every
# library alike instead of on the five samples of one.
#
# Usage: tests/bench/run.sh [extra test flags, e.g. -test.benchtime=500ms]
# Env: ROUNDS (default 5) samples per benchmark; BENCH_OUT keeps the raw
# output (default: a temporary file), which benchstat also reads.
# Progress and the raw output go to stderr. About six minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")"
rounds=${ROUNDS:-5}
tmp=$(mktemp -d -t sse-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
out=${BENCH_OUT:-$tmp/bench.txt}
: >"$out"
go test -c -o "$tmp/bench.test" .
# The code measured: the commit, and whether sse/ had uncommitted changes.
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- ../../sse ../../internal 2>/dev/null || rev="$rev + uncommitted changes in sse/ or internal/"
start=$SECONDS
for i in $(seq "$rounds"); do
	echo "round $i of $rounds" >&2
	"$tmp/bench.test" -test.run '^$' -test.bench . -test.count 1 -test.benchmem "$@" | tee -a "$out" >&2
done
echo "Machine: $(nproc) CPUs, $(go version | cut -d' ' -f3-), load average before the run's end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Code: $rev"
echo "Command: tests/bench/run.sh $* (go test -c, then $rounds × bench.test -test.run '^\$' -test.bench . -test.count 1 -test.benchmem; $((SECONDS - start)) s)"
go run ./cmd/benchtable <"$out"
