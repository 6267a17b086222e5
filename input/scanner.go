package input

import (
	"context"
	"errors"
	"io"

	"github.com/redpanda-data/benthos/v4/public/service"

	benthossse "github.com/benthos-sse/benthos-sse"
	"github.com/benthos-sse/benthos-sse/sse"
)

type scannerCreator struct {
	max       int
	log       *service.Logger
	oversized *service.MetricCounter
}

func newScannerCreator(conf *service.ParsedConfig, res *service.Resources) (service.BatchScannerCreator, error) {
	c, err := benthossse.ParseScannerConfig(conf)
	if err != nil {
		return nil, err
	}
	return &scannerCreator{max: c.MaxEventSize, log: res.Logger(), oversized: res.Metrics().NewCounter("sse_events_oversized")}, nil
}

func (c *scannerCreator) Create(rdr io.ReadCloser, aFn service.AckFunc, _ *service.ScannerSourceDetails) (service.BatchScanner, error) {
	s := &scanner{c: c, r: rdr, p: sse.NewParser(rdr, sse.ParserOptions{MaxEventSize: c.max})}
	return service.AutoAggregateBatchScannerAcks(s, aFn), nil
}

func (c *scannerCreator) Close(context.Context) error { return nil }

type scanner struct {
	c    *scannerCreator
	r    io.ReadCloser
	p    *sse.Parser
	meta eventMeta
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
		return service.MessageBatch{s.meta.message(ev)}, nil
	}
}

func (s *scanner) Close(context.Context) error { return s.r.Close() }
