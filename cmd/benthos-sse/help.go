package main

import (
	"bytes"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// helpExamples replaces the `create` examples of Benthos' help text that
// name components this binary lacks (a kafka input, the awk and protobuf
// processors, a nats output) with ones it has, so that every example works
// as printed. tests/help_test.go runs each example the help shows.
var helpExamples = strings.NewReplacer(
	"create kafka//file", "create sse//file",
	"create stdin/bloblang,awk/nats", "create sse/mapping,log/stdout",
	"create file,http_server/protobuf/http_client", "create file,http_server/mapping/http_client",
)

// printHelpWithOurExamples wraps urfave/cli's help printer, the one the
// Benthos CLI renders every help page with, since Benthos offers no option
// to change its help text.
func printHelpWithOurExamples(next func(io.Writer, string, any)) func(io.Writer, string, any) {
	return func(w io.Writer, templ string, data any) {
		var buf bytes.Buffer
		next(&buf, templ, data)
		_, _ = helpExamples.WriteString(w, buf.String())
	}
}

func init() { cli.HelpPrinter = printHelpWithOurExamples(cli.HelpPrinter) }
