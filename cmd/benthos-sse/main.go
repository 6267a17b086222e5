// Command benthos-sse is a Benthos distribution with the `sse` input and
// scanner built in, alongside Benthos' core components (io, pure) and its own
// components under internal/ (the `kafka_franz` output, the `redis` cache,
// the `prometheus` metrics exporter).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/kafka"
	_ "github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/prommetrics"
	_ "github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/rediscache"
	"github.com/benthos-sse/benthos-sse/input"
)

func main() {
	var logger *service.Logger
	// A kafka_franz output that was fenced stops the run: Benthos gives an
	// output no way to end the pipeline.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-kafka.Stop():
			cancel()
		case <-ctx.Done():
		}
	}()
	code, err := service.RunCLIToCode(ctx,
		service.CLIOptSetVersion(version()),
		service.CLIOptSetBinaryName("benthos-sse"),
		service.CLIOptSetProductName("benthos-sse"),
		service.CLIOptOnLoggerInit(func(l *service.Logger) { logger = l }),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
	}
	os.Exit(exitCode(code, errors.Join(input.Failure(), kafka.Failure()), logger))
}

// exitCode is the process's exit code: the CLI's, or 1 when the CLI
// succeeded but an sse input ended because it could not go on (Benthos
// exits 0 whenever an input ends), or a kafka component stopped the run
// (a fenced transactional output). The reason is then logged as the last
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
