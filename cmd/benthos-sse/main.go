// Command benthos-sse is a Benthos distribution with the `sse` input and
// scanner built in, alongside Benthos' core components (io, pure) and its own
// components under internal/ (the `kafka_franz` output, the `redis` cache).
package main

import (
	"context"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/kafka"
	_ "github.com/benthos-sse/benthos-sse/cmd/benthos-sse/internal/rediscache"
	_ "github.com/benthos-sse/benthos-sse/input"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var (
	Version   = "0.1.0-dev"
	DateBuilt = "unknown"
)

func main() {
	service.RunCLI(context.Background(),
		service.CLIOptSetVersion(Version, DateBuilt),
		service.CLIOptSetBinaryName("benthos-sse"),
		service.CLIOptSetProductName("benthos-sse"),
	)
}
