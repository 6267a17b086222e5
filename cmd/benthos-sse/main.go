// Command benthos-sse is a Benthos distribution with the `sse` input and
// scanner built in, alongside Benthos' core components (io, pure) and its own
// components under internal/ (the `kafka_franz` output, the `redis` cache,
// the `prometheus` metrics exporter).
package main

import (
	"context"
	"fmt"
	"os"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/kafka"
	_ "github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/prommetrics"
	_ "github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/rediscache"
	"github.com/benthos-sse/benthos-sse/input"
)

func main() {
	var logger *service.Logger
	code, err := service.RunCLIToCode(context.Background(),
		service.CLIOptSetVersion(version()),
		service.CLIOptSetBinaryName("benthos-sse"),
		service.CLIOptSetProductName("benthos-sse"),
		service.CLIOptOnLoggerInit(func(l *service.Logger) { logger = l }),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
	}
	os.Exit(exitCode(code, input.Failure(), logger))
}

// exitCode is the process's exit code: the CLI's, or 1 when the CLI
// succeeded but an sse input ended because it could not go on (Benthos
// exits 0 whenever an input ends). The reason is then logged as the last
// line, through the service's logger when there is one.
func exitCode(code int, failure error, logger *service.Logger) int {
	if code != 0 || failure == nil {
		return code
	}
	msg := fmt.Sprintf("Exiting with code 1: %v", failure)
	if logger != nil {
		logger.Error(msg)
	} else {
		fmt.Fprintln(os.Stderr, msg)
	}
	return 1
}
