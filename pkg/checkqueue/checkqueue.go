// Package checkqueue carries a held disconnect to its check: one delayed
// SQS message per held disconnect, sent with DelaySeconds = what is left of
// the grace, and the Lambda SQS adapter that hands each delivered message to
// the check. Nothing polls: SQS keeps the message out of sight until it is
// due, and Lambda's SQS event source delivers it.
//
// Delivery is at least once: a check can come twice, or after the stream
// has moved on; the check (pkg/notify) decides by the stream's state, once.
package checkqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// MaxDelay is the longest delay SQS gives a message.
const MaxDelay = 900 * time.Second

var (
	// ErrBadMessage: a message that is not a check. Retrying it cannot help:
	// it is logged and dropped.
	ErrBadMessage = errors.New("checkqueue: not a check message")
	// ErrEnqueue: the check may not be queued; the caller retries (the
	// notifier's record is retried, and the rules hold the disconnect again).
	ErrEnqueue = errors.New("checkqueue: check not queued")
)

// Check is the message of a held disconnect: which stream, which
// disconnect, and what an alert about it needs to say (the workspace and
// whether it is a test stream), since the check has no event record.
type Check struct {
	StreamID      string    `json:"streamId"`
	EventID       string    `json:"eventId"`
	OccurredAt    time.Time `json:"occurredAt"`
	WorkspaceID   string    `json:"workspaceId,omitempty"`
	WorkspaceName string    `json:"workspaceName,omitempty"`
	Test          bool      `json:"test,omitempty"`
}

// Encode is the message body of c.
func (c Check) Encode() (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("checkqueue: encode check of %s: %w", c.EventID, err)
	}
	return string(b), nil
}

// Decode reads a message body written by Encode.
func Decode(body string) (Check, error) {
	var c Check
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return Check{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if c.StreamID == "" || c.EventID == "" {
		return Check{}, fmt.Errorf("%w: stream %q, event %q", ErrBadMessage, c.StreamID, c.EventID)
	}
	return c, nil
}

// Enqueuer queues a check to be delivered after delay.
type Enqueuer interface {
	Enqueue(ctx context.Context, c Check, delay time.Duration) error
}

// SendAPI is the part of the SQS client SQS uses. The local stack's
// query-protocol client (infra/ops.QueryQueue) has the same method, so the
// same code sends to goaws.
type SendAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQS queues checks in an SQS queue: one SendMessage each.
type SQS struct {
	Client SendAPI
	URL    string
}

var _ Enqueuer = (*SQS)(nil)

// DelaySeconds is delay as SQS takes it: whole seconds, rounded up so a
// check never comes before its grace is over, from 0 to 900.
func DelaySeconds(delay time.Duration) int32 {
	s := (delay + time.Second - 1) / time.Second
	return int32(min(max(s, 0), MaxDelay/time.Second))
}

// Enqueue implements Enqueuer.
func (q *SQS) Enqueue(ctx context.Context, c Check, delay time.Duration) error {
	body, err := c.Encode()
	if err != nil {
		return err
	}
	_, err = q.Client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(q.URL),
		MessageBody:  aws.String(body),
		DelaySeconds: DelaySeconds(delay),
	})
	if err != nil {
		return fmt.Errorf("%w: disconnect %s of stream %s to %s: %w", ErrEnqueue, c.EventID, c.StreamID, q.URL, err)
	}
	return nil
}

// Checker decides one delivered check. An error means "deliver it again":
// the check's state write and publish are safe to repeat.
type Checker interface {
	Check(ctx context.Context, c Check) error
}

// Handler is the check consumer's Lambda handler on the queue's SQS event
// source, which must have FunctionResponseTypes [ReportBatchItemFailures].
// Each message is independent (a check of one stream): a failed one is
// reported by its message id and comes back after the visibility timeout;
// the others are done.
type Handler struct {
	Checker Checker
	// Logger gets a line per failed or unreadable message and one per batch
	// (slog.Default() when nil).
	Logger *slog.Logger
}

// Handle implements the SQS event handler.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	unreadable := 0
	for _, m := range ev.Records {
		c, err := Decode(m.Body)
		if err != nil {
			unreadable++
			log.ErrorContext(ctx, "check message dropped", "messageId", m.MessageId, "error", err.Error())
			continue
		}
		if err := h.Checker.Check(ctx, c); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			log.ErrorContext(ctx, "check failed; it will be delivered again", "messageId", m.MessageId,
				"streamId", c.StreamID, "eventId", c.EventID, "receiveCount", m.Attributes["ApproximateReceiveCount"], "error", err.Error())
		}
	}
	log.InfoContext(ctx, "check batch done", "messages", len(ev.Records), "failed", len(resp.BatchItemFailures), "unreadable", unreadable)
	return resp, nil
}
