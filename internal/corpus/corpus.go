// Package corpus generates the event streams that the parser and client
// benchmarks read, together with the events a WHATWG-conforming parser must
// dispatch from them.
//
// Every generator is deterministic: the same call returns the same bytes on
// every machine and Go version (it uses its own PRNG, not math/rand), so
// MB/s figures from different runs and different libraries measure the same
// input. Each stream is about 2 MiB, small enough to stay in memory and in
// cache-friendly territory for the benchmarks, large enough that per-stream
// setup is amortised over thousands of events.
//
// It also loads the sse package's conformance corpus ([LoadConformance])
// and adds the per-event figures to a benchmark ([ReportPerEvent]), so that
// the sse package's tests and the nested tests/bench module (which compares
// against other SSE libraries, and imports this internal package because
// its module path lies under this module's, resolved by its replace
// directive) share one copy. The package imports only the standard library.
package corpus

import (
	"fmt"
	"strconv"
	"strings"
)

// Want is an event a parser must dispatch, in the terms of the WHATWG
// MessageEvent.
type Want struct {
	// Type is the event type: "message" when the event had no event field.
	Type string
	// Data is the data buffer without its final LF.
	Data string
	// ID is the last event ID string at dispatch. Every corpus either sets
	// an id on every event or on none, so the per-event id that some
	// libraries report is the same value.
	ID string
}

// Corpus is one named stream and the events it holds.
type Corpus struct {
	Name   string
	Stream []byte
	Events []Want
}

// The corpus names, in the order [All] returns them.
const (
	NameSmallJSON = "small-json"
	NameMultiline = "multiline"
	NameLarge     = "large"
	NameCRLF      = "crlf"
	NameLLM       = "llm"
)

// Names lists every corpus name, in the order [All] returns them.
func Names() []string {
	return []string{NameSmallJSON, NameMultiline, NameLarge, NameCRLF, NameLLM}
}

// Get returns the corpus called name, and false for an unknown name.
func Get(name string) (Corpus, bool) {
	var gen func() ([]byte, []Want)
	switch name {
	case NameSmallJSON:
		gen = SmallJSON
	case NameMultiline:
		gen = Multiline
	case NameLarge:
		gen = Large
	case NameCRLF:
		gen = CRLF
	case NameLLM:
		gen = LLM
	default:
		return Corpus{}, false
	}
	stream, events := gen()
	return Corpus{Name: name, Stream: stream, Events: events}, true
}

// All returns every corpus, in the order of [Names].
func All() []Corpus {
	var all []Corpus
	for _, name := range Names() {
		c, _ := Get(name)
		all = append(all, c)
	}
	return all
}

// Event counts, chosen so that each stream is about 2 MiB.
const (
	smallJSONEvents = 16384
	multilineEvents = 12288
	largeEvents     = 32
	llmTokens       = 8192
)

// LargeDataSize is the data size of each event of the "large" corpus.
const LargeDataSize = 64 << 10

// SmallJSON returns the "small-json" corpus: events of about 100 bytes of
// single-line JSON data, each with an incrementing id, LF line endings.
// It is the shape of most notification and change feeds.
func SmallJSON() ([]byte, []Want) { return smallJSON("\n") }

// CRLF returns the "crlf" corpus: the "small-json" events with CRLF line
// endings, as some Windows and proxy servers send them.
func CRLF() ([]byte, []Want) { return smallJSON("\r\n") }

func smallJSON(eol string) ([]byte, []Want) {
	r := newRand(1)
	actions := []string{"click", "view", "purchase", "scroll", "login", "logout"}
	buf := make([]byte, 0, smallJSONEvents*(128+2*len(eol)))
	wants := make([]Want, 0, smallJSONEvents)
	for i := range smallJSONEvents {
		id := strconv.Itoa(100000 + i)
		data := fmt.Sprintf(`{"seq":%d,"ts":%d,"user":"user-%04d","action":%q,"value":%d.%04d,"src":"web","ok":%t}`,
			i, 1700000000000+int64(i)*37, r.intn(10000), actions[r.intn(len(actions))],
			r.intn(1000), r.intn(10000), r.intn(2) == 0)
		buf = append(buf, "id: "...)
		buf = append(buf, id...)
		buf = append(buf, eol...)
		buf = append(buf, "data: "...)
		buf = append(buf, data...)
		buf = append(buf, eol...)
		buf = append(buf, eol...)
		wants = append(wants, Want{Type: "message", Data: data, ID: id})
	}
	return buf, wants
}

// Multiline returns the "multiline" corpus: events whose data is a
// pretty-printed JSON object sent as five data lines, with an event type
// that cycles through three values and an incrementing id.
func Multiline() ([]byte, []Want) {
	r := newRand(2)
	types := []string{"create", "update", "delete"}
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	var buf []byte
	wants := make([]Want, 0, multilineEvents)
	for i := range multilineEvents {
		id := strconv.Itoa(i + 1)
		typ := types[i%len(types)]
		lines := []string{
			"{",
			fmt.Sprintf(`  "id": "%08x-%04x-%04x",`, r.next()&0xffffffff, r.intn(1<<16), r.intn(1<<16)),
			fmt.Sprintf(`  "name": "%s %s %s",`, words[r.intn(len(words))], words[r.intn(len(words))], words[r.intn(len(words))]),
			fmt.Sprintf(`  "updated_at": "2024-%02d-%02dT%02d:%02d:%02dZ"`, 1+r.intn(12), 1+r.intn(28), r.intn(24), r.intn(60), r.intn(60)),
			"}",
		}
		buf = append(buf, "event: "...)
		buf = append(buf, typ...)
		buf = append(buf, "\nid: "...)
		buf = append(buf, id...)
		buf = append(buf, '\n')
		for _, l := range lines {
			buf = append(buf, "data: "...)
			buf = append(buf, l...)
			buf = append(buf, '\n')
		}
		buf = append(buf, '\n')
		wants = append(wants, Want{Type: typ, Data: strings.Join(lines, "\n"), ID: id})
	}
	return buf, wants
}

// Large returns the "large" corpus: events of [LargeDataSize] bytes of
// single-line data (base64-like text, as a large JSON document or an
// embedded file would be), each with an id. Every event is bigger than
// the 64 KiB buffers many parsers start with.
func Large() ([]byte, []Want) {
	r := newRand(3)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	buf := make([]byte, 0, largeEvents*(LargeDataSize+32))
	wants := make([]Want, 0, largeEvents)
	data := make([]byte, LargeDataSize)
	for i := range largeEvents {
		id := strconv.Itoa(i + 1)
		for j := range data {
			data[j] = alphabet[r.next()>>58]
		}
		buf = append(buf, "id: "...)
		buf = append(buf, id...)
		buf = append(buf, "\ndata: "...)
		buf = append(buf, data...)
		buf = append(buf, "\n\n"...)
		wants = append(wants, Want{Type: "message", Data: string(data), ID: id})
	}
	return buf, wants
}

// LLMDone is the data of the final event of the "llm" corpus.
const LLMDone = "[DONE]"

// LLM returns the "llm" corpus: an OpenAI chat completions stream, one
// chat.completion.chunk per token (`data: {...,"choices":[{"index":0,
// "delta":{"content":"tok"},...}]}`), no ids and no event types, ending
// with `data: [DONE]`. Tokens include JSON escapes and non-ASCII text.
func LLM() ([]byte, []Want) {
	r := newRand(4)
	vocab := []string{
		" the", " model", " stream", ",", ".", " of", " and", " to", " a", " in",
		" event", " server", " token", " data", " is", " that", " it", " for",
		`\n`, `\n\n`, ` \"`, `\"`, " café", " naïve", " 東京", " —", " 🙂", "ing", "s", "ed",
	}
	const head = `{"id":"chatcmpl-9xBenchCorpus0001","object":"chat.completion.chunk","created":1718000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0123456789","choices":[{"index":0,"delta":`
	var buf []byte
	wants := make([]Want, 0, llmTokens+3)
	add := func(data string) {
		buf = append(buf, "data: "...)
		buf = append(buf, data...)
		buf = append(buf, "\n\n"...)
		wants = append(wants, Want{Type: "message", Data: data})
	}
	add(head + `{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}`)
	for range llmTokens {
		add(head + `{"content":"` + vocab[r.intn(len(vocab))] + `"},"logprobs":null,"finish_reason":null}]}`)
	}
	add(head + `{},"logprobs":null,"finish_reason":"stop"}]}`)
	add(LLMDone)
	return buf, wants
}

// rng is a splitmix64 generator: fixed here so that the corpora never
// change with the standard library's.
type rng struct{ s uint64 }

func newRand(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n); the slight modulo bias does not matter.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }
