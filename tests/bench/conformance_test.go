package bench

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// conformanceCorpus is the sse package's corpus, from this directory.
const conformanceCorpus = "../../sse/testdata/conformance.json"

// conformanceReport runs the corpus once per test binary.
var conformanceReport = sync.OnceValues(func() (Report, error) {
	return RunConformance(conformanceCorpus)
})

// TestConformanceOurs checks that the sse package's adapter passes every
// case of the corpus, read whole and one byte at a time, without an error.
func TestConformanceOurs(t *testing.T) {
	rep, err := conformanceReport()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rep.Libraries, func(l LibraryReport) bool { return l.Name == Ours })
	if i < 0 {
		t.Fatalf("no report for %s", Ours)
	}
	ours := rep.Libraries[i]
	for _, f := range ours.Failures {
		t.Errorf("%s (%s): %s: %s", f.Case, f.Rule, f.Reason, f.Diff)
	}
	for _, f := range ours.Errored {
		t.Errorf("%s (%s): %s", f.Case, f.Rule, f.Diff)
	}
	if ours.Passed != rep.Cases || ours.Total != rep.Cases {
		t.Errorf("%s passed %d/%d, want %d/%d", Ours, ours.Passed, ours.Total, rep.Cases, rep.Cases)
	}
}

// TestConformanceReport checks that the report has a column for every
// adapter of Parsers and a cell for every rule in it, and that its counts
// and failures add up. It asserts nothing about the peers' results.
func TestConformanceReport(t *testing.T) {
	rep, err := conformanceReport()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := LoadConformance(conformanceCorpus)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Cases != len(cases) {
		t.Fatalf("report has %d cases, corpus %d", rep.Cases, len(cases))
	}
	checkReport(t, rep, cases, Parsers)
}

// checkReport checks that rep is well formed for cases and libs.
func checkReport(t *testing.T, rep Report, cases []ConformanceCase, libs []Library[ParseFunc]) {
	t.Helper()
	if !slices.Equal(rep.Rules[:min(len(rep.Rules), len(ConformanceRules))], ConformanceRules) {
		t.Errorf("rules %q do not start with %q", rep.Rules, ConformanceRules)
	}
	ruleOf := map[string]string{}
	perRule := map[string]int{}
	for _, c := range cases {
		ruleOf[c.Name] = c.Rule
		perRule[c.Rule]++
	}
	for _, r := range rep.Rules {
		if perRule[r] == 0 && !slices.Contains(ConformanceRules, r) {
			t.Errorf("rule %q has no case", r)
		}
	}
	if len(rep.Libraries) != len(libs) {
		t.Fatalf("report has %d libraries, want %d", len(rep.Libraries), len(libs))
	}
	for i, l := range rep.Libraries {
		if l.Name != libs[i].Name {
			t.Errorf("library %d is %q, want %q", i, l.Name, libs[i].Name)
		}
		if l.Total != len(cases) || l.Passed < 0 || l.Passed > l.Total {
			t.Errorf("%s: passed %d/%d of %d cases", l.Name, l.Passed, l.Total, len(cases))
		}
		if len(l.Rules) != len(rep.Rules) {
			t.Errorf("%s: %d rule rows, want %d", l.Name, len(l.Rules), len(rep.Rules))
			continue
		}
		passed, total := 0, 0
		for j, c := range l.Rules {
			if c.Rule != rep.Rules[j] {
				t.Errorf("%s: row %d is rule %q, want %q", l.Name, j, c.Rule, rep.Rules[j])
			}
			if c.Total != perRule[c.Rule] || c.Passed < 0 || c.Passed > c.Total {
				t.Errorf("%s: rule %s: passed %d/%d, corpus has %d", l.Name, c.Rule, c.Passed, c.Total, perRule[c.Rule])
			}
			passed += c.Passed
			total += c.Total
		}
		if passed != l.Passed || total != l.Total {
			t.Errorf("%s: rule rows add up to %d/%d, total says %d/%d", l.Name, passed, total, l.Passed, l.Total)
		}
		if len(l.Failures) != l.Total-l.Passed {
			t.Errorf("%s: %d failures listed, %d cases failed", l.Name, len(l.Failures), l.Total-l.Passed)
		}
		seen := map[string]bool{}
		for _, f := range slices.Concat(l.Failures, l.Errored) {
			if seen[f.Case] {
				t.Errorf("%s: case %s listed twice", l.Name, f.Case)
			}
			seen[f.Case] = true
			if rule, ok := ruleOf[f.Case]; !ok || rule != f.Rule {
				t.Errorf("%s: failure of unknown case %q or wrong rule %q", l.Name, f.Case, f.Rule)
			}
			if f.Diff == "" || strings.ContainsAny(f.Diff, "\r\n") {
				t.Errorf("%s: case %s: diff %q is not one line", l.Name, f.Case, f.Diff)
			}
		}
		for _, f := range l.Failures {
			if !slices.Contains([]string{"panic", "hang", "events"}, f.Reason) {
				t.Errorf("%s: case %s: reason %q", l.Name, f.Case, f.Reason)
			}
		}
		for _, f := range l.Errored {
			if f.Reason != "error" {
				t.Errorf("%s: case %s: reason %q in Errored", l.Name, f.Case, f.Reason)
			}
		}
	}
}

// TestConformanceHarness checks how RunConformance classifies what an
// adapter does, on a two-case corpus with adapters that misbehave.
func TestConformanceHarness(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corpus.json")
	corpus := `[
 {"name": "one", "rule": "data", "input": "data: a\n\n", "events": [{"type": "message", "data": "a", "id": ""}]},
 {"name": "none", "rule": "bom", "input_hex": "efbbbf", "events": []}
]`
	if err := os.WriteFile(path, []byte(corpus), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	want := func(r io.Reader, fn func(Event)) error {
		b, err := io.ReadAll(r)
		if len(b) > 0 && b[0] == 'd' {
			fn(Event{Type: "message", Data: "a"})
		}
		return err
	}
	libs := []Library[ParseFunc]{
		{"exact", want},
		{"panics", func(io.Reader, func(Event)) error { panic("boom\nline two") }},
		{"hangs", func(r io.Reader, fn func(Event)) error {
			fn(Event{Type: "message", Data: "a"})
			<-stop
			return nil
		}},
		{"errors", func(r io.Reader, fn func(Event)) error {
			want(r, fn)
			return errors.New("unexpected EOF")
		}},
		{"untyped", func(r io.Reader, fn func(Event)) error {
			return want(r, func(e Event) { fn(Event{Data: e.Data}) })
		}},
		{"whole-only", func(r io.Reader, fn func(Event)) error {
			p := make([]byte, 64)
			if n, _ := r.Read(p); n > 1 && p[0] == 'd' {
				fn(Event{Type: "message", Data: "a"})
			}
			_, err := io.Copy(io.Discard, r)
			return err
		}},
	}
	rep, err := runConformance(path, libs, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := LoadConformance(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(cases[1].Input); got != "\uFEFF" {
		t.Errorf("input_hex decoded to %q", got)
	}
	checkReport(t, rep, cases, libs)

	type result struct {
		passed        int
		reason, diff  string // of the first failure
		errored       int
		erroredPrefix string
	}
	wants := map[string]result{
		"exact":      {passed: 2},
		"panics":     {reason: "panic", diff: "both reads: panic: boom line two"},
		"hangs":      {reason: "hang", diff: "both reads: no return within 100ms, after 1 event"},
		"errors":     {passed: 2, errored: 2, erroredPrefix: `both reads: expected events, then error "unexpected EOF"`},
		"untyped":    {passed: 1, reason: "events", diff: `both reads: event 0: got {type "", data "a", id ""}, want {type "message", data "a", id ""}`},
		"whole-only": {passed: 1, reason: "events", diff: `one-byte read: got 0 events, want 1; missing event 0: {type "message", data "a", id ""}; other read passes`},
	}
	for _, l := range rep.Libraries {
		w := wants[l.Name]
		got := result{passed: l.Passed, errored: len(l.Errored)}
		if len(l.Failures) > 0 {
			got.reason, got.diff = l.Failures[0].Reason, l.Failures[0].Diff
		}
		if len(l.Errored) > 0 {
			got.erroredPrefix = l.Errored[0].Diff
		}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", l.Name, got, w)
		}
	}
	// A hang counts on the rule's row: "hangs" passes neither rule.
	for _, c := range rep.Libraries[2].Rules {
		if c.Passed != 0 {
			t.Errorf("hangs: rule %s passed %d", c.Rule, c.Passed)
		}
	}
}
