package benthossse

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// This file holds the generic helpers that the specs of the input and the
// scanner build on: the lint rules that Benthos' lint does not apply by
// itself, the parsing that checks the same rules again for `run --chilled`
// (which skips lint), and the one format of a config error. Nothing here
// names a field: every field-specific rule, bound and reader sits beside its
// field in config_spec.go (or scanner_spec.go), so references run one way,
// from the specs to these helpers.
//
// Where a lint message appears: Benthos reports a field's rule on the line
// of that field's value, an object's rule on the line of the object's first
// key, and a map field's rule both on the map (first key's line) and on each
// value (that value's line, which names no key). So each rule sits on the
// narrowest field that can see everything it checks.

// FieldError names the field an error is about, as every config error does:
// `field "checkpoint.cache": ...`. path is the field's dotted path.
func FieldError(path string, err error) error { return fmt.Errorf("field %q: %w", path, err) }

// durationPattern matches what time.ParseDuration accepts, without a sign.
// Lint rules cannot use parse_duration: that method belongs to Benthos'
// pure components, which may register after this package.
const durationPattern = `^(0|([0-9]*(\\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+)$`

// durationExpr is a bloblang expression that is an error message when v is
// not a non-negative duration, and null otherwise.
func durationExpr(name, v string) string {
	return fmt.Sprintf(`if %[2]s.type() != "string" || !%[2]s.re_match("%[3]s") {
  "%[1]s: %%v is not a valid non-negative duration such as 10s".format(%[2]s)
} else { null }`, name, v, durationPattern)
}

// durationRule rejects a value that is not a duration or is negative,
// naming the field. Lint does not parse durations by itself.
func durationRule(name string) string {
	return "root = [" + durationExpr(name, "this") + "].filter(x -> x != null)"
}

// positiveDurationRule is durationRule that also rejects zero.
func positiveDurationRule(name string) string {
	return "root = [" + durationExpr(name, "this") + `, if (` + durationNanosExpr("this") + `) == 0 {
  "` + name + `: %v must be above zero".format(this)
} else { null }].filter(x -> x != null)`
}

// DurationRangeRule is a field lint rule that accepts a duration from lo
// to hi inclusive (hi 0: no maximum), naming the field. It is exported for
// the distribution's own components (cmd/benthos-sse/internal/...), so that
// each duration field of the binary is linted as this package lints its
// own: by the same pattern, and against the bounds its runtime accepts,
// zero included or not.
func DurationRangeRule(name string, lo, hi time.Duration) string {
	n := "(" + durationNanosExpr("this") + ")"
	rule := "root = [" + durationExpr(name, "this") + fmt.Sprintf(`, if %[1]s != null && %[1]s < %[3]d {
  "%[2]s: %%v is below the minimum of %[4]v".format(this)
} else { null }`, n, name, lo.Nanoseconds(), lo)
	if hi > 0 {
		rule += fmt.Sprintf(`, if %[1]s != null && %[1]s > %[3]d {
  "%[2]s: %%v is above the maximum of %[4]v".format(this)
} else { null }`, n, name, hi.Nanoseconds(), hi)
	}
	return rule + "].filter(x -> x != null)"
}

// durationNanosExpr is a bloblang expression for the nanoseconds of v, a
// string that durationPattern matches, or null when it is not one.
func durationNanosExpr(v string) string {
	return `if ` + v + `.type() == "string" && ` + v + `.re_match("` + durationPattern + `") {
  ` + v + `.re_find_all_submatch("([0-9]*(?:\\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)").fold(0, acc -> acc.tally + acc.value.index(1).number().catch(0) * {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 1000000, "s": 1000000000, "m": 60000000000, "h": 3600000000000}.get(acc.value.index(2)))
} else { null }`
}

// intRule accepts an integer from lo (0 or 1) to hi, naming the field. Lint
// does not type-check int fields, and Benthos skips the lint rules of a
// field declared int whose value is not one (BENTHOS-NOTES pitfall 2), so
// these fields are declared any and checked here. (Numbers reach lint rules
// as Go ints, which compare only after .number().)
func intRule(name string, lo, hi int) string {
	want := "a positive integer"
	if lo == 0 {
		want = "zero or a positive integer"
	}
	return fmt.Sprintf(`root = if this.type() != "number" {
  [ "%[1]s: %%v is not an integer".format(this) ]
} else if this.number() < %[2]d || this.number().round() != this.number() {
  [ "%[1]s: %%v must be %[3]s".format(this) ]
} else if this.number() > %[4]d {
  [ "%[1]s: %%v is over the maximum of %[4]d".format(this) ]
}`, name, lo, want, hi)
}

// byteUnits are the units a byte size may have, as Benthos users write
// them elsewhere (`1MiB`, `64KB`); they match without regard to case.
var byteUnits = []struct {
	name string
	size int64
}{
	{"B", 1},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
}

// byteSizeHint is the example every byte size error gives.
const byteSizeHint = "is not a byte size such as 1048576 or 1MiB"

// formatByteSize writes n in the largest binary unit that divides it.
func formatByteSize(n int64) string {
	for _, u := range slices.Backward(byteUnits) {
		if strings.HasSuffix(u.name, "iB") && n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseByteSize reads a byte size: digits, an optional space, and an
// optional unit of byteUnits. It returns a size above hi as hi+1.
func parseByteSize(s string, hi int64) (int64, error) {
	digits := strings.TrimRight(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	unit := s[len(digits):]
	digits = strings.TrimSuffix(digits, " ")
	mult := int64(0)
	if unit == "" {
		mult = 1
	}
	for _, u := range byteUnits {
		if strings.EqualFold(unit, u.name) {
			mult = u.size
		}
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" || mult == 0 {
		return 0, fmt.Errorf("%q %s", s, byteSizeHint)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > hi/mult {
		return hi + 1, nil
	}
	return n * mult, nil
}

// byteSizeRule accepts an integer or a byte size string from 1 to hi bytes,
// naming the field.
func byteSizeRule(name string, hi int64) string {
	var alts []string
	var sizes []string
	for _, u := range byteUnits {
		alts = append(alts, strings.ToLower(u.name))
		sizes = append(sizes, fmt.Sprintf("%q: %d", strings.ToLower(u.name), u.size))
	}
	return fmt.Sprintf(`let m = if this.type() == "number" || this.type() == "string" {
  this.string().re_find_all_submatch("(?i)^([0-9]+) ?(%[2]s)?$").index(0).catch([])
} else { [] }
let n = if $m.length() == 3 {
  $m.index(1).number() * {"": 1, %[3]s}.get($m.index(2).lowercase())
} else { null }
root = if $n == null {
  [ "%[1]s: %%v %[4]s".format(this) ]
} else if $n < 1 {
  [ "%[1]s: %%v must be positive".format(this) ]
} else if $n > %[5]d {
  [ "%[1]s: %%v is over the maximum of %[6]s (%[5]d bytes)".format(this) ]
}`, name, strings.Join(alts, "|"), strings.Join(sizes, ", "), byteSizeHint, hi, formatByteSize(hi))
}

// enumRule accepts exactly one of options (Benthos' own enum lint ignores
// case, while the parsing code compares exactly), naming the field and the
// options.
func enumRule(name string, options ...string) string {
	quoted := make([]string, len(options))
	for i, o := range options {
		quoted[i] = strconv.Quote(o)
	}
	return fmt.Sprintf(`root = if ![%[2]s].contains(this) {
  [ "%[1]s: %%v is not one of %[3]s".format(this) ]
}`, name, strings.Join(quoted, ", "), strings.Join(options, ", "))
}

// oneOf checks that v is one of options, as enumRule does.
func oneOf(path, v string, options ...string) error {
	for _, o := range options {
		if v == o {
			return nil
		}
	}
	return FieldError(path, fmt.Errorf("%q is not one of %s", v, strings.Join(options, ", ")))
}

// controlCharsPattern matches the bytes that cannot be sent in an HTTP
// header value: those below 0x20 other than tab, and 0x7f. net/http refuses
// a request that holds one, and sse.SendableID refuses such an ID.
const controlCharsPattern = `[\\x00-\\x08\\x0a-\\x1f\\x7f]`

// hasControlChars reports whether s holds a byte controlCharsPattern matches.
func hasControlChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// tokenPattern matches an HTTP token (RFC 9110 section 5.6.2), which a
// header name must be.
const tokenPattern = "^[!#$%&'*+\\\\-.^_`|~0-9A-Za-z]+$"

// isToken reports whether s is an HTTP token, as tokenPattern does.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// intValue is the integer a parsed any field holds, as intRule accepts it.
func intValue(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case uint64:
		if v > math.MaxInt64 {
			return math.MaxInt64, true
		}
		return int64(v), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
			return int64(v), true
		}
	}
	return 0, false
}

// byteSize reads a field that byteSizeRule checks.
func byteSize(conf *service.ParsedConfig, hi int64, path ...string) (int, error) {
	name := strings.Join(path, ".")
	v, err := conf.FieldAny(path...)
	if err != nil {
		return 0, FieldError(name, err)
	}
	n, ok := intValue(v)
	if s, isString := v.(string); isString {
		if n, err = parseByteSize(s, hi); err != nil {
			return 0, FieldError(name, err)
		}
	} else if !ok {
		return 0, FieldError(name, fmt.Errorf("%v %s", v, byteSizeHint))
	}
	switch {
	case n < 1:
		return 0, FieldError(name, fmt.Errorf("%v must be positive", v))
	case n > hi:
		return 0, FieldError(name, fmt.Errorf("%v is over the maximum of %s (%d bytes)", v, formatByteSize(hi), hi))
	}
	return int(n), nil
}

// boundedInt reads a field that intRule(name, lo, hi) checks.
func boundedInt(conf *service.ParsedConfig, lo, hi int, path ...string) (int, error) {
	name := strings.Join(path, ".")
	v, err := conf.FieldAny(path...)
	if err != nil {
		return 0, FieldError(name, err)
	}
	n, ok := intValue(v)
	switch {
	case !ok:
		return 0, FieldError(name, fmt.Errorf("%v is not an integer", v))
	case n < int64(lo) && lo == 0:
		return 0, FieldError(name, fmt.Errorf("%d must not be negative", n))
	case n < int64(lo):
		return 0, FieldError(name, fmt.Errorf("%d must be positive", n))
	case n > int64(hi):
		return 0, FieldError(name, fmt.Errorf("%d is over the maximum of %d", n, hi))
	}
	return int(n), nil
}

func nonNegativeDuration(conf *service.ParsedConfig, path ...string) (time.Duration, error) {
	d, err := conf.FieldDuration(path...)
	if err != nil {
		return 0, FieldError(strings.Join(path, "."), err)
	}
	if d < 0 {
		return 0, FieldError(strings.Join(path, "."), fmt.Errorf("%v must not be negative", d))
	}
	return d, nil
}
