package main

import (
	"strings"
	"testing"

	"github.com/benthos-sse/benthos-sse/tests/bench"
)

func TestConformanceTable(t *testing.T) {
	rep := bench.Report{
		Corpus: "../../sse/testdata/conformance.json",
		Cases:  3,
		Rules:  []string{"bom", "data"},
		Libraries: []bench.LibraryReport{
			{Name: "ours", Passed: 3, Total: 3, Rules: []bench.RuleCount{{Rule: "bom", Passed: 1, Total: 1}, {Rule: "data", Passed: 2, Total: 2}}},
			{
				Name: "peer", Passed: 1, Total: 3,
				Rules: []bench.RuleCount{{Rule: "bom", Passed: 0, Total: 1}, {Rule: "data", Passed: 1, Total: 2}},
				Failures: []bench.Failure{
					{Case: "bom_x", Rule: "bom", Reason: "hang", Diff: "both reads: no return within 2s, after 0 events"},
					{Case: "data_y", Rule: "data", Reason: "events", Diff: "whole read: got {data \"`a`\"}"},
				},
				Errored: []bench.Failure{{Case: "data_z", Rule: "data", Reason: "error", Diff: "both reads: expected events, then error \"EOF\""}},
			},
		},
	}
	var b strings.Builder
	if err := render(&b, rep, map[string]string{"peer": "example.com/peer v1.0.0"}); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"`" + command + "`",
		"Each of the 3 cases of `sse/testdata/conformance.json`",
		"peer: `example.com/peer v1.0.0`",
		"| rule | cases | ours | peer |\n|---|--:|--:|--:|\n",
		"| bom | 1 | 1 | 0 |\n",
		"| data | 2 | 2 | 1 |\n",
		"| **total** | **3** | **3** | **1** |\n",
		"**ours** passes all 3 cases.",
		"<summary><b>peer</b>: 1/3 passed; fails bom 1, data 1; 1 hangs; 1 passes with an error</summary>",
		"- `bom_x` (bom): `both reads: no return within 2s, after 0 events`\n",
		"- `data_y` (data): ``whole read: got {data \"`a`\"}``\n",
		"- `data_z` (data): `both reads: expected events, then error \"EOF\"`\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}

	rep.Libraries[1].Rules = rep.Libraries[1].Rules[:1]
	if err := render(&b, rep, nil); err == nil {
		t.Error("render accepted a library without a row for every rule")
	}
}
