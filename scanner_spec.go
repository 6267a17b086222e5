package benthossse

import (
	"github.com/redpanda-data/benthos/v4/public/service"
)

// ScannerConfigSpec returns the specification of the `sse` scanner.
func ScannerConfigSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Summary("Parses a Server-Sent Events stream into one message per event, with `sse_event` and `sse_id` metadata.").
		Description(`
Use it to parse event streams that another input reads: `+"`file`, `stdin`, `socket`, `subprocess`"+`, or
`+"`http_client`"+` in stream mode. Parsing is exactly the `+"`sse`"+` input's, but the scanner has no
reconnection, `+"`Last-Event-ID`"+` or checkpoint: for a live HTTP stream use the `+"`sse`"+` input. An event over
`+"`max_event_size`"+` is skipped, logged and counted in `+"`sse_events_oversized`"+`; an unterminated event at the end
of the stream is discarded, as the standard requires.`).
		Fields(
			maxEventSizeField().
				Description("The largest event accepted (data, type and ID together). A larger event is skipped to its end. "+maxEventSizeDoc),
		).
		Example("Recorded stream", "Parses an event stream recorded to a file.", `
input:
  file:
    paths: [ ./resources/sample.sse ]
    scanner:
      sse: {}
`)
}

// ScannerConfig is the parsed configuration of one `sse` scanner.
type ScannerConfig struct {
	MaxEventSize int
}

// ParseScannerConfig reads a parsed `sse` scanner configuration. Every
// error names the field it is about.
func ParseScannerConfig(conf *service.ParsedConfig) (*ScannerConfig, error) {
	n, err := maxEventSize(conf)
	if err != nil {
		return nil, err
	}
	return &ScannerConfig{MaxEventSize: n}, nil
}
