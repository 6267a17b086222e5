package bench

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing/iotest"
	"time"

	"github.com/benthos-sse/benthos-sse/internal/corpus"
)

// ConformanceRules are the rule tags of the sse package's conformance
// corpus, in the order the report lists them.
var ConformanceRules = corpus.ConformanceRules

// ConformanceTimeout bounds each run of an adapter on one case; a run that
// has not returned by then fails as a hang.
const ConformanceTimeout = 2 * time.Second

// ConformanceCase is one case of the corpus: a stream and the events the
// standard's algorithm dispatches for it. The corpus's last_event_id and
// retry_ms are not read: the libraries have no common API for them.
type ConformanceCase struct {
	Name   string
	Rule   string
	Input  []byte
	Events []Event
}

// Report is what every library in [Parsers] made of every case.
type Report struct {
	Corpus    string   // the corpus path given to RunConformance
	Cases     int      // number of cases
	Rules     []string // rule tags, in row order
	Libraries []LibraryReport
}

// LibraryReport is one library's column of the table.
type LibraryReport struct {
	Name   string
	Passed int
	Total  int
	Rules  []RuleCount // one per Report.Rules, same order
	// Failures lists the failing cases in corpus order.
	Failures []Failure
	// Errored lists the passing cases on which the library returned an
	// error after reporting exactly the expected events.
	Errored []Failure
}

// RuleCount is one cell of the table.
type RuleCount struct {
	Rule          string
	Passed, Total int
}

// Failure says what a library did on one case.
type Failure struct {
	Case, Rule string
	// Reason is "panic", "hang", "events" (it returned, with other events
	// than expected) or, in Errored, "error". If the read modes fail
	// differently, it is the first mode's.
	Reason string
	// Diff is one line: for each failing read mode (or "both reads" if they
	// fail alike) the first mismatch, the panic value, or how many events
	// came before the hang.
	Diff string
}

// readModes are the two ways each case is fed to an adapter.
var readModes = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one-byte", iotest.OneByteReader},
}

// RunConformance loads the corpus at path (the sse package's
// testdata/conformance.json) and runs every case through every adapter in
// [Parsers], reading the input whole and one byte at a time. A case passes
// for a library if both reads report exactly the expected events (type,
// data and last event ID) and neither panics nor hangs.
func RunConformance(path string) (Report, error) {
	return runConformance(path, Parsers, ConformanceTimeout)
}

func runConformance(path string, libs []Library[ParseFunc], timeout time.Duration) (Report, error) {
	cases, err := LoadConformance(path)
	if err != nil {
		return Report{}, err
	}
	rules := append([]string(nil), ConformanceRules...)
	index := map[string]int{}
	for i, r := range rules {
		index[r] = i
	}
	for _, c := range cases {
		if _, ok := index[c.Rule]; !ok {
			index[c.Rule] = len(rules)
			rules = append(rules, c.Rule)
		}
	}
	rep := Report{Corpus: path, Cases: len(cases), Rules: rules}
	for _, lib := range libs {
		lr := LibraryReport{Name: lib.Name, Total: len(cases), Rules: make([]RuleCount, len(rules))}
		for i, r := range rules {
			lr.Rules[i].Rule = r
		}
		for _, c := range cases {
			cell := &lr.Rules[index[c.Rule]]
			cell.Total++
			f, errored := runCase(lib.Func, c, timeout)
			if f != nil {
				lr.Failures = append(lr.Failures, *f)
				continue
			}
			lr.Passed++
			cell.Passed++
			if errored != nil {
				lr.Errored = append(lr.Errored, *errored)
			}
		}
		rep.Libraries = append(rep.Libraries, lr)
	}
	return rep, nil
}

// LoadConformance reads the corpus at path (with internal/corpus, which the
// sse package's tests share) in the terms of the adapters.
func LoadConformance(path string) ([]ConformanceCase, error) {
	loaded, err := corpus.LoadConformance(path)
	if err != nil {
		return nil, err
	}
	cases := make([]ConformanceCase, len(loaded))
	for i, c := range loaded {
		cases[i] = ConformanceCase{Name: c.Name, Rule: c.Rule, Input: c.Input}
		for _, e := range c.Events {
			cases[i].Events = append(cases[i].Events, Event{Type: e.Type, Data: e.Data, ID: e.ID})
		}
	}
	return cases, nil
}

// runCase runs one case in every read mode. It returns the failure, or,
// for a pass on which some mode returned an error, that error.
func runCase(parse ParseFunc, c ConformanceCase, timeout time.Duration) (fail, errored *Failure) {
	var fails, errs []outcome
	for _, m := range readModes {
		res := runOnce(parse, m.wrap(bytes.NewReader(c.Input)), len(c.Input)+len(c.Events)+8, timeout)
		switch {
		case res.panicked:
			fails = append(fails, outcome{m.name, "panic", "panic: " + oneLine(fmt.Sprint(res.panicVal))})
			continue
		case res.hung:
			fails = append(fails, outcome{m.name, "hang", fmt.Sprintf("no return within %v, after %s", timeout, plural(len(res.events), "event"))})
			continue
		}
		if d := diffEvents(res.events, c.Events, res.overflow); d != "" {
			if res.err != nil {
				d += fmt.Sprintf("; then error %q", oneLine(res.err.Error()))
			}
			fails = append(fails, outcome{m.name, "events", d})
			continue
		}
		if res.err != nil {
			errs = append(errs, outcome{m.name, "error", fmt.Sprintf("expected events, then error %q", oneLine(res.err.Error()))})
		}
	}
	switch {
	case len(fails) == 0 && len(errs) == 0:
		return nil, nil
	case len(fails) == 0:
		return nil, &Failure{c.Name, c.Rule, "error", describe(errs, "other read: no error")}
	}
	return &Failure{c.Name, c.Rule, fails[0].reason, describe(fails, "other read passes")}, nil
}

// describe puts what the read modes did on one line; rest is said of the
// read modes not in outs.
func describe(outs []outcome, rest string) string {
	if len(outs) == len(readModes) && outs[0] == (outcome{outs[0].mode, outs[1].reason, outs[1].diff}) {
		return "both reads: " + outs[0].diff
	}
	var parts []string
	for _, o := range outs {
		parts = append(parts, o.mode+" read: "+o.diff)
	}
	if len(outs) < len(readModes) {
		parts = append(parts, rest)
	}
	return strings.Join(parts, "; ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// outcome is what one read mode did on a case.
type outcome struct{ mode, reason, diff string }

type runResult struct {
	events   []Event
	overflow bool // more than the limit of events were reported
	err      error
	panicked bool
	panicVal any
	hung     bool
}

// runOnce runs parse on r in its own goroutine, collecting at most limit
// events, and gives up after timeout, leaving the goroutine behind.
func runOnce(parse ParseFunc, r io.Reader, limit int, timeout time.Duration) runResult {
	var (
		mu  sync.Mutex
		res runResult
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				mu.Lock()
				res.panicked, res.panicVal = true, v
				mu.Unlock()
			}
		}()
		err := parse(r, func(e Event) {
			// The strings may share the library's buffers: copy them.
			e = Event{Type: strings.Clone(e.Type), Data: strings.Clone(e.Data), ID: strings.Clone(e.ID)}
			mu.Lock()
			defer mu.Unlock()
			if len(res.events) < limit {
				res.events = append(res.events, e)
			} else {
				res.overflow = true
			}
		})
		mu.Lock()
		res.err = err
		mu.Unlock()
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		mu.Lock()
		defer mu.Unlock()
		return runResult{events: append([]Event(nil), res.events...), hung: true}
	}
	mu.Lock()
	defer mu.Unlock()
	return res
}

// diffEvents describes the first difference between got and want, or
// returns "" if they are equal.
func diffEvents(got, want []Event, overflow bool) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("event %d: got %s, want %s", i, fmtEvent(got[i]), fmtEvent(want[i]))
		}
	}
	switch {
	case overflow:
		return fmt.Sprintf("more than %d events, want %d", len(got), len(want))
	case len(got) > len(want):
		return fmt.Sprintf("got %s, want %d; extra event %d: %s", plural(len(got), "event"), len(want), len(want), fmtEvent(got[len(want)]))
	case len(got) < len(want):
		return fmt.Sprintf("got %s, want %d; missing event %d: %s", plural(len(got), "event"), len(want), len(got), fmtEvent(want[len(got)]))
	}
	return ""
}

func fmtEvent(e Event) string {
	return fmt.Sprintf("{type %s, data %s, id %s}", quote(e.Type), quote(e.Data), quote(e.ID))
}

// quote quotes s, shortened to keep a diff on one readable line.
func quote(s string) string {
	const limit = 48
	if len(s) > limit {
		return fmt.Sprintf("%q…(%d bytes)", s[:limit], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
