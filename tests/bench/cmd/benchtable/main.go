// Command benchtable reads `go test -bench` output of the tests/bench module
// from standard input and prints markdown tables of the medians, with our
// ratio to the fastest peer and to the bufio bound, the bound's ratio to the
// bufio+alloc floor, and whether the targets of the "Performance" issue are
// met.
//
// Benchmark names must be Benchmark<Kind>/<corpus>/<library>: BenchmarkParser
// cells show MB/s and allocs/event, BenchmarkClient cells events/s and
// allocs/event. Run it through run.sh:
//
//	go test -run '^$' -bench . -count 5 -benchmem | go run ./cmd/benchtable
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The flags are declared inline, in the flag package's usual shape, which
// the repository's small commands share on purpose.
func main() {
	ours := flag.String("ours", "benthos-sse", "the library the ratios are computed for")
	bound := flag.String("bound", "bufio", "the library that is the upper bound, not a peer")
	floors := flag.String("floors", "bufio+alloc", "comma-separated reference rows that are not peers")
	flag.Parse()
	res, err := parse(os.Stdin)
	if err == nil {
		err = render(os.Stdout, res, *ours, *bound, strings.Split(*floors, ","))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// results holds every sample of every metric, in the order first seen.
type results struct {
	header  []string // goos, goarch, pkg, cpu lines
	kinds   []string
	corpora map[string][]string // kind -> corpora
	libs    map[string][]string // kind -> libraries
	samples map[key]map[string][]float64
}

type key struct{ kind, corpus, lib string }

// benchLine matches "BenchmarkKind/corpus/lib-P  N  v unit  v unit ...".
var benchLine = regexp.MustCompile(`^Benchmark([^/\s]+)/([^/\s]+)/(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func parse(r io.Reader) (*results, error) {
	res := &results{
		corpora: map[string][]string{},
		libs:    map[string][]string{},
		samples: map[key]map[string][]float64{},
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		for _, h := range []string{"goos:", "goarch:", "cpu:"} {
			if strings.HasPrefix(line, h) && !seen[line] {
				seen[line] = true
				res.header = append(res.header, line)
			}
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		k := key{m[1], m[2], m[3]}
		if !slices.Contains(res.kinds, k.kind) {
			res.kinds = append(res.kinds, k.kind)
		}
		if !slices.Contains(res.corpora[k.kind], k.corpus) {
			res.corpora[k.kind] = append(res.corpora[k.kind], k.corpus)
		}
		if !slices.Contains(res.libs[k.kind], k.lib) {
			res.libs[k.kind] = append(res.libs[k.kind], k.lib)
		}
		f := strings.Fields(m[4])
		if len(f)%2 != 0 {
			return nil, fmt.Errorf("odd value/unit fields in %q", line)
		}
		if res.samples[k] == nil {
			res.samples[k] = map[string][]float64{}
		}
		for i := 0; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("value %q in %q: %v", f[i], line, err)
			}
			res.samples[k][f[i+1]] = append(res.samples[k][f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(res.kinds) == 0 {
		return nil, fmt.Errorf("no Benchmark<Kind>/<corpus>/<library> lines in the input")
	}
	return res, nil
}

// median returns the median of unit's samples for k, and false if there
// are none.
func (r *results) median(k key, unit string) (float64, bool) {
	v := slices.Clone(r.samples[k][unit])
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

func (r *results) count(k key, unit string) int { return len(r.samples[k][unit]) }

// verdict collects the target checks for the summary.
type verdict struct {
	name   string
	misses []string
	checks int
}

func (v *verdict) check(ok bool, what string) {
	v.checks++
	if !ok {
		v.misses = append(v.misses, what)
	}
}

func (v *verdict) String() string {
	if v.checks == 0 {
		return fmt.Sprintf("- %s: not measured", v.name)
	}
	if len(v.misses) == 0 {
		return fmt.Sprintf("- %s: **met**", v.name)
	}
	return fmt.Sprintf("- %s: **missed** (%s)", v.name, strings.Join(v.misses, "; "))
}

// Targets of the issue.
const (
	targetPeerRatio   = 2.0 // ours >= 2x the fastest peer
	targetBoundRatio  = 3.0 // bound <= 3x ours
	targetAllocsEvent = 1.0
)

// render prints the tables. ours is compared with the peers (every library
// but ours, bound and floors) and with bound; a floor is a reference row,
// such as the bound plus what any parser of its kind must do, shown with
// bound's ratio to it.
func render(w io.Writer, r *results, ours, bound string, floors []string) error {
	notPeer := func(l string) bool { return l == ours || l == bound || slices.Contains(floors, l) }
	fmt.Fprintln(w, "```")
	for _, h := range r.header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w, "```")
	vPeer := &verdict{name: fmt.Sprintf("parser MB/s >= %gx the fastest peer on every corpus", targetPeerRatio)}
	vBound := &verdict{name: fmt.Sprintf("parser within %gx of the %s bound", targetBoundRatio, bound)}
	vAllocs := &verdict{name: fmt.Sprintf("parser <= %g alloc/event (per-stream setup included)", targetAllocsEvent)}
	vClient := &verdict{name: fmt.Sprintf("client events/s >= %gx the fastest peer client", targetPeerRatio)}
	for _, kind := range r.kinds {
		rate := "MB/s"
		vRatio := vPeer
		if kind == "Client" {
			rate, vRatio = "events/s", vClient
		}
		corpora, libs := r.corpora[kind], r.libs[kind]
		n := 0
		for _, c := range corpora {
			for _, l := range libs {
				n = max(n, r.count(key{kind, c, l}, rate))
			}
		}
		fmt.Fprintf(w, "\n### %s: %s, allocs/event (median of %d)\n\n", kind, rate, n)
		fmt.Fprintf(w, "| library | %s |\n", strings.Join(corpora, " | "))
		fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---:|", len(corpora)))
		for _, l := range libs {
			cells := make([]string, len(corpora))
			for i, c := range corpora {
				cells[i] = "–"
				k := key{kind, c, l}
				if v, ok := r.median(k, rate); ok {
					cells[i] = fmtRate(rate, v)
					if a, ok := r.median(k, "allocs/event"); ok {
						cells[i] += ", " + fmtAllocs(a)
					}
				}
			}
			name := l
			if l == ours {
				name = "**" + l + "**"
			} else if l == bound {
				name = l + " (bound)"
			} else if slices.Contains(floors, l) {
				name = l + " (floor)"
			}
			fmt.Fprintf(w, "| %s | %s |\n", name, strings.Join(cells, " | "))
		}
		// Ratio rows.
		peerCells := make([]string, len(corpora))
		boundCells := make([]string, len(corpora))
		hasBound := false
		for i, c := range corpora {
			peerCells[i], boundCells[i] = "–", "–"
			o, ok := r.median(key{kind, c, ours}, rate)
			if !ok {
				continue
			}
			best, bestLib := 0.0, ""
			for _, l := range libs {
				if notPeer(l) {
					continue
				}
				if v, ok := r.median(key{kind, c, l}, rate); ok && v > best {
					best, bestLib = v, l
				}
			}
			if bestLib != "" {
				ratio := o / best
				peerCells[i] = fmt.Sprintf("%.2f× (%s)", ratio, bestLib)
				vRatio.check(ratio >= targetPeerRatio, fmt.Sprintf("%s %.2f×", c, ratio))
			}
			if b, ok := r.median(key{kind, c, bound}, rate); ok {
				hasBound = true
				ratio := b / o
				boundCells[i] = fmt.Sprintf("%.2f×", ratio)
				vBound.check(ratio <= targetBoundRatio, fmt.Sprintf("%s %.2f×", c, ratio))
			}
			if kind == "Parser" {
				if a, ok := r.median(key{kind, c, ours}, "allocs/event"); ok {
					// Compare as printed, so 1.001 from a per-stream
					// buffer over 10 000 events counts as 1.
					vAllocs.check(a < targetAllocsEvent+0.005, fmt.Sprintf("%s %s", c, fmtAllocs(a)))
				}
			}
		}
		fmt.Fprintf(w, "| %s ÷ fastest peer | %s |\n", ours, strings.Join(peerCells, " | "))
		if hasBound {
			fmt.Fprintf(w, "| %s ÷ %s | %s |\n", bound, ours, strings.Join(boundCells, " | "))
		}
		for _, f := range floors {
			if !slices.Contains(libs, f) {
				continue
			}
			cells := make([]string, len(corpora))
			for i, c := range corpora {
				cells[i] = "–"
				b, ok1 := r.median(key{kind, c, bound}, rate)
				v, ok2 := r.median(key{kind, c, f}, rate)
				if ok1 && ok2 {
					cells[i] = fmt.Sprintf("%.2f×", b/v)
				}
			}
			fmt.Fprintf(w, "| %s ÷ %s | %s |\n", bound, f, strings.Join(cells, " | "))
		}
	}
	fmt.Fprintf(w, "\n### Targets\n\n%s\n%s\n%s\n%s\n", vPeer, vBound, vAllocs, vClient)
	return nil
}

func fmtRate(unit string, v float64) string {
	switch {
	case unit == "MB/s" || v < 1e4:
		return fmt.Sprintf("%.0f", v)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	default:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
}

func fmtAllocs(v float64) string {
	if v < 0.005 {
		return "0"
	}
	return fmt.Sprintf("%.2f", v)
}
