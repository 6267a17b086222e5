package input

import (
	"context"
	"errors"
	"io"

	"github.com/redpanda-data/benthos/v4/public/service"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/sse"
)

func scannerSpec() *service.ConfigSpec {
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
			service.NewAnyField(benthossse.FieldMaxEventSize).
				Description("The largest event accepted, in bytes (data, type and ID together). A larger event is skipped to its end.").
				Default(sse.DefaultMaxEventSize).Examples(1048576).
				LintRule(`root = if this.type() != "number" || this.number() <= 0 || this.number().round() != this.number() { [ "max_event_size: %v must be a positive integer".format(this) ] }`),
		).
		Example("Recorded stream", "Parses an event stream recorded to a file.", `
input:
  file:
    paths: [ ./resources/sample.sse ]
    scanner:
      sse: {}
`)
}

type scannerCreator struct {
	max       int
	log       *service.Logger
	oversized *service.MetricCounter
}

func newScannerCreator(conf *service.ParsedConfig, res *service.Resources) (service.BatchScannerCreator, error) {
	n, err := conf.FieldInt(benthossse.FieldMaxEventSize)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, errors.New("field \"max_event_size\": must be positive")
	}
	return &scannerCreator{max: n, log: res.Logger(), oversized: res.Metrics().NewCounter("sse_events_oversized")}, nil
}

func (c *scannerCreator) Create(rdr io.ReadCloser, aFn service.AckFunc, _ *service.ScannerSourceDetails) (service.BatchScanner, error) {
	s := &scanner{c: c, r: rdr, p: sse.NewParser(rdr, sse.ParserOptions{MaxEventSize: c.max})}
	return service.AutoAggregateBatchScannerAcks(s, aFn), nil
}

func (c *scannerCreator) Close(context.Context) error { return nil }

type scanner struct {
	c *scannerCreator
	r io.ReadCloser
	p *sse.Parser
}

func (s *scanner) NextBatch(ctx context.Context) (service.MessageBatch, error) {
	for {
		ev, err := s.p.Next()
		if errors.Is(err, sse.ErrEventTooLarge) {
			s.c.oversized.Incr(1)
			s.c.log.Warnf("Skipped an event over max_event_size (%d bytes); last event ID %s", s.c.max, logID(s.p.LastEventID()))
			continue
		}
		if err != nil {
			return nil, err
		}
		return service.MessageBatch{newEventMessage(ev)}, nil
	}
}

func (s *scanner) Close(context.Context) error { return s.r.Close() }
