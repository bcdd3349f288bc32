package awslocal

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/infra/ops"
)

// SQSHandler is a Lambda handler of SQS batches, such as
// checkqueue.Handler.Handle.
type SQSHandler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// SQSSource is a stand-in for an SQS event source mapping: it receives the
// queue's visible messages (a message sent with DelaySeconds becomes
// visible when it is due: goaws honours the delay), hands them to the
// handler as one batch, and deletes each one the handler did not report
// failed. A failed message (or every message of a batch whose handler
// returned an error) is left alone, so it comes back after the queue's
// visibility timeout, as on AWS.
type SQSSource struct {
	Queue   *ops.QueryQueue
	ARN     string
	Handler SQSHandler
	// BatchSize is the most messages per batch (10 when zero).
	BatchSize int
	// Interval is the pause when the queue had nothing visible (250 ms when
	// zero).
	Interval time.Duration
	Logger   *slog.Logger
	// Twice hands every batch to the handler twice, as SQS's at-least-once
	// delivery may (a proof's fault).
	Twice bool
}

// Run polls until ctx ends.
func (s *SQSSource) Run(ctx context.Context) {
	interval := s.Interval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	for ctx.Err() == nil {
		n := s.Once(ctx)
		if n == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
	}
}

// Once hands one batch to the handler and returns how many messages it
// held.
func (s *SQSSource) Once(ctx context.Context) int {
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	batch := s.BatchSize
	if batch <= 0 {
		batch = 10
	}
	msgs, err := s.Queue.Receive(ctx, batch)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("sqs event source: receive failed; trying again", "queue", s.Queue.URL, "error", err.Error())
		}
		return 0
	}
	if len(msgs) == 0 {
		return 0
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		ev.Records[i] = events.SQSMessage{MessageId: m.ID, ReceiptHandle: m.Receipt, Body: m.Body, EventSource: "aws:sqs", EventSourceARN: s.ARN}
	}
	resp, err := s.Handler(ctx, ev)
	if s.Twice && err == nil {
		resp, err = s.Handler(ctx, ev)
	}
	if err != nil {
		log.Error("sqs event source: the handler failed; the batch comes back after the visibility timeout", "queue", s.Queue.URL, "messages", len(msgs), "error", err.Error())
		return len(msgs)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for _, m := range msgs {
		if failed[m.ID] {
			continue
		}
		if err := s.Queue.Delete(ctx, m); err != nil && ctx.Err() == nil {
			log.Warn("sqs event source: delete failed; the message comes back", "queue", s.Queue.URL, "messageId", m.ID, "error", err.Error())
		}
	}
	return len(msgs)
}
