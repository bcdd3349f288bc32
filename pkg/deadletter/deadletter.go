// Package deadletter keeps aside what SNS refused for good: an alert or a
// change-feed message whose publish failed with an answer no retry can
// change (the notifier may not publish to the topic, or use its key; the
// topic does not exist; the request is invalid). Retrying it would hold
// back every later alert of its stream for nothing; dropping it would lose
// it. It goes to the notifier's dead-letter queue, beside the stream
// batches Lambda gave up on, with the reason, and an operator sends it
// again (fastpixctl redrive) once the cause is fixed.
package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// ErrKeep: the message could not be put in the queue; the send it stands
// for is retried instead.
var ErrKeep = errors.New("deadletter: not kept")

// Message is one undeliverable publish: the stream, why it failed, and the
// notifier's own record of it (what to publish where), as JSON.
type Message struct {
	StreamID string          `json:"streamId"`
	Reason   string          `json:"reason"`
	Effect   json.RawMessage `json:"effect"`
}

// body is the queue message: a key of its own, so it is never taken for
// one of Lambda's failure records.
type body struct {
	Undeliverable *Message `json:"undeliverable"`
}

// Encode is the message body of m.
func Encode(m Message) (string, error) {
	b, err := json.Marshal(body{Undeliverable: &m})
	if err != nil {
		return "", fmt.Errorf("deadletter: encode: %w", err)
	}
	return string(b), nil
}

// Decode reads a body written by Encode; ok is false for any other message
// (a Lambda failure record).
func Decode(s string) (m Message, ok bool) {
	var b body
	if err := json.Unmarshal([]byte(s), &b); err != nil || b.Undeliverable == nil {
		return Message{}, false
	}
	return *b.Undeliverable, true
}

// SendAPI is the part of the SQS client the queue uses.
type SendAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Queue is the notifier's dead-letter queue.
type Queue struct {
	Client SendAPI
	URL    string
}

// Keep puts m in the queue.
func (q *Queue) Keep(ctx context.Context, m Message) error {
	text, err := Encode(m)
	if err != nil {
		return err
	}
	if _, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(text)}); err != nil {
		return fmt.Errorf("%w: stream %s to %s: %w", ErrKeep, m.StreamID, q.URL, err)
	}
	return nil
}
