package corpus

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
)

// ConformanceRules are the rule tags of the sse package's conformance
// corpus (sse/testdata/conformance.json), one per part of the WHATWG
// "interpret an event stream" algorithm, in the order reports list them.
var ConformanceRules = []string{
	"bom", "line-endings", "comments", "field-parsing", "data",
	"event-type", "id", "retry", "eof", "utf8",
}

// Case is one case of the conformance corpus: a stream and what the
// standard's algorithm makes of it.
type Case struct {
	Name string
	Rule string // one of ConformanceRules
	// Input is the stream: the case's input, or its input_hex decoded.
	Input []byte
	// Events are the events dispatched, in order.
	Events []Want
	// LastEventID is the last event ID string at the end of the stream.
	LastEventID string
	// RetryMS is the reconnection time set by the stream, in
	// milliseconds, or nil when it sets none.
	RetryMS *int64
}

// LoadConformance reads the conformance corpus at path. It fails on a case
// with an empty or repeated name, or with both input and input_hex set.
func LoadConformance(path string) ([]Case, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw []struct {
		Name        string `json:"name"`
		Rule        string `json:"rule"`
		Input       string `json:"input"`
		InputHex    string `json:"input_hex"`
		Events      []Want `json:"events"`
		LastEventID string `json:"last_event_id"`
		RetryMS     *int64 `json:"retry_ms"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	cases := make([]Case, len(raw))
	seen := map[string]bool{}
	for i, r := range raw {
		if r.Name == "" || seen[r.Name] {
			return nil, fmt.Errorf("%s: case %d: empty or duplicate name %q", path, i, r.Name)
		}
		seen[r.Name] = true
		c := Case{Name: r.Name, Rule: r.Rule, Input: []byte(r.Input), Events: r.Events, LastEventID: r.LastEventID, RetryMS: r.RetryMS}
		if r.InputHex != "" {
			if r.Input != "" {
				return nil, fmt.Errorf("%s: case %q: both input and input_hex set", path, r.Name)
			}
			if c.Input, err = hex.DecodeString(r.InputHex); err != nil {
				return nil, fmt.Errorf("%s: case %q: bad input_hex: %w", path, r.Name, err)
			}
		}
		cases[i] = c
	}
	return cases, nil
}
