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
# Progress and the raw output go to stderr. About seven minutes on two cores.
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

# The pipeline benchmarks live in the main module (they need only Benthos
# core): the sse input against http_client+lines in one process, the
# write-to-output latency at 1,000 events/s, and 1 GiB through a blocked
# output. Medians are left to the reader: five samples each.
echo
echo "### Pipeline (main module: go test -run '^\$' -bench 'Pipeline' -benchtime 5x -count $rounds ./input)"
echo
echo '```'
(cd ../.. && go test -run '^$' -bench 'Pipeline$' -benchtime 5x -count "$rounds" ./input | grep '^Benchmark')
(cd ../.. && go test -run '^$' -bench 'PipelineLatency|PipelineBlockedOutput' -benchtime 1x -count 1 -timeout 20m ./input | grep '^Benchmark')
echo '```'
