package corpus

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
)

// naiveParse reads a stream that uses only LF line endings, "field: value"
// lines and no comments: enough to check the generators, and independent of
// the sse package.
func naiveParse(t *testing.T, stream []byte) []Want {
	t.Helper()
	s := string(stream)
	if !strings.HasSuffix(s, "\n\n") {
		t.Fatalf("stream does not end with a blank line")
	}
	var got []Want
	var lastID string
	for _, block := range strings.Split(strings.TrimSuffix(s, "\n\n"), "\n\n") {
		w := Want{Type: "message"}
		var data []string
		for _, line := range strings.Split(block, "\n") {
			name, value, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("line %q is not \"field: value\"", line)
			}
			switch name {
			case "data":
				data = append(data, value)
			case "event":
				w.Type = value
			case "id":
				lastID = value
			default:
				t.Fatalf("unexpected field %q", name)
			}
		}
		if len(data) == 0 {
			t.Fatalf("event without data: %q", block)
		}
		w.Data, w.ID = strings.Join(data, "\n"), lastID
		got = append(got, w)
	}
	return got
}

func TestCorpus_MatchesWants(t *testing.T) {
	for _, c := range All() {
		t.Run(c.Name, func(t *testing.T) {
			if n := len(c.Stream); n < 1<<20 || n > 4<<20 {
				t.Errorf("stream is %d bytes, want 1-4 MiB", n)
			}
			stream := c.Stream
			if c.Name == NameCRLF {
				if bytes.Count(stream, []byte("\r\n")) != bytes.Count(stream, []byte("\n")) {
					t.Fatalf("crlf corpus has a line ending other than CRLF")
				}
				stream = bytes.ReplaceAll(stream, []byte("\r\n"), []byte("\n"))
			} else if bytes.IndexByte(stream, '\r') >= 0 {
				t.Fatalf("corpus has a CR")
			}
			got := naiveParse(t, stream)
			if len(got) != len(c.Events) {
				t.Fatalf("stream holds %d events, Events lists %d", len(got), len(c.Events))
			}
			for i := range got {
				if got[i] != c.Events[i] {
					t.Fatalf("event %d: stream has %+v, Events lists %+v", i, got[i], c.Events[i])
				}
			}
		})
	}
}

func TestCorpus_Deterministic(t *testing.T) {
	for _, name := range Names() {
		a, _ := Get(name)
		b, _ := Get(name)
		if !bytes.Equal(a.Stream, b.Stream) || !reflect.DeepEqual(a.Events, b.Events) {
			t.Errorf("%s: two calls gave different corpora", name)
		}
	}
	// Pin the generators: a change to any of them changes what every
	// recorded benchmark result measured.
	pins := map[string]struct {
		events int
		first  string
	}{
		NameSmallJSON: {16384, `{"seq":0,"ts":1700000000000,"user":"user-`},
		NameMultiline: {12288, "{\n  \"id\": \""},
		NameLarge:     {32, ""},
		NameCRLF:      {16384, `{"seq":0,"ts":1700000000000,"user":"user-`},
		NameLLM:       {8195, `{"id":"chatcmpl-`},
	}
	for name, pin := range pins {
		c, ok := Get(name)
		if !ok {
			t.Fatalf("Get(%q) found nothing", name)
		}
		if len(c.Events) != pin.events || !strings.HasPrefix(c.Events[0].Data, pin.first) {
			t.Errorf("%s: %d events, first data %.40q; want %d events, first data starting %q",
				name, len(c.Events), c.Events[0].Data, pin.events, pin.first)
		}
	}
	if c, _ := Get(NameLLM); c.Events[len(c.Events)-1].Data != LLMDone {
		t.Errorf("llm corpus does not end with %s", LLMDone)
	}
	if c, _ := Get(NameLarge); len(c.Events[0].Data) != LargeDataSize {
		t.Errorf("large event data is %d bytes, want %d", len(c.Events[0].Data), LargeDataSize)
	}
	if _, ok := Get("nope"); ok {
		t.Errorf(`Get("nope") found a corpus`)
	}
}

func TestLoadConformance(t *testing.T) {
	cases, err := LoadConformance("../../sse/testdata/conformance.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 60 {
		t.Fatalf("got %d cases, want at least 60", len(cases))
	}
	rules := map[string]bool{}
	for _, r := range ConformanceRules {
		rules[r] = true
	}
	hexSeen := false
	for _, c := range cases {
		if !rules[c.Rule] {
			t.Errorf("case %q: unknown rule %q", c.Name, c.Rule)
		}
		hexSeen = hexSeen || len(c.Input) > 0 && c.Input[0] >= 0x80
	}
	if !hexSeen {
		t.Errorf("no case decoded from input_hex to non-ASCII bytes")
	}

	dir := t.TempDir()
	tests := []struct {
		name, json, err string
		want            []Case
	}{
		{
			name: "fields", json: `[{"name":"a","rule":"id","input_hex":"efbbbf0a","events":[{"type":"message","data":"x","id":"1"}],"last_event_id":"1","retry_ms":5}]`,
			want: []Case{{Name: "a", Rule: "id", Input: []byte("\uFEFF\n"), Events: []Want{{Type: "message", Data: "x", ID: "1"}}, LastEventID: "1", RetryMS: ptr(int64(5))}},
		},
		{name: "empty", json: `[]`, err: "no cases"},
		{name: "duplicate", json: `[{"name":"a"},{"name":"a"}]`, err: `duplicate name "a"`},
		{name: "no name", json: `[{"rule":"id"}]`, err: "empty or duplicate name"},
		{name: "both inputs", json: `[{"name":"a","input":"x","input_hex":"78"}]`, err: "both input and input_hex"},
		{name: "bad hex", json: `[{"name":"a","input_hex":"zz"}]`, err: "bad input_hex"},
		{name: "bad json", json: `{`, err: "unexpected end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := dir + "/" + strings.ReplaceAll(tt.name, " ", "_") + ".json"
			if err := os.WriteFile(path, []byte(tt.json), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadConformance(path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
