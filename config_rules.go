package benthossse

import (
	"fmt"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/benthos-sse/benthos-sse/sse"
)

// This file holds what the specs of the input and the scanner share: the
// lint rules that Benthos' lint does not apply by itself, the parsing that
// checks the same rules again for `run --chilled`, and the one format of a
// config error.

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

// positiveIntRule rejects anything but a positive integer. Lint does not
// type-check int fields by itself, so these fields are declared as any and
// checked here. (Numbers reach lint rules as Go ints, which compare only
// after .number().)
func positiveIntRule(name string) string {
	return fmt.Sprintf(`root = if this.type() != "number" {
  [ "%[1]s: %%v is not an integer".format(this) ]
} else if this.number() <= 0 || this.number().round() != this.number() {
  [ "%[1]s: %%v must be a positive integer".format(this) ]
}`, name)
}

// maxEventSizeField is `max_event_size` of the input and the scanner,
// without its description, which each gives in its own words.
func maxEventSizeField() *service.ConfigField {
	return service.NewAnyField(fieldMaxEventSize).
		Default(sse.DefaultMaxEventSize).Examples(1048576, 16777216).
		LintRule(positiveIntRule(fieldMaxEventSize))
}

// maxEventSize reads the field that maxEventSizeField declares.
func maxEventSize(conf *service.ParsedConfig) (int, error) {
	return positiveInt(conf, fieldMaxEventSize)
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

func positiveInt(conf *service.ParsedConfig, path ...string) (int, error) {
	n, err := conf.FieldInt(path...)
	if err != nil {
		return 0, FieldError(strings.Join(path, "."), err)
	}
	if n <= 0 {
		return 0, FieldError(strings.Join(path, "."), fmt.Errorf("%d must be positive", n))
	}
	return n, nil
}
