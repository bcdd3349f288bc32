// Package eventsource lets one Lambda function have event sources of two
// kinds: it hands each invocation to the handler of the source it comes
// from, told by its records' eventSource. The notifier reads the events
// table's DynamoDB stream and the held disconnects' SQS queue.
package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// ErrUnknownSource: the invocation is not a batch of a source the function
// handles. Lambda reports the error; nothing of the batch is taken as done.
var ErrUnknownSource = errors.New("eventsource: not an event of a known source")

// The eventSource of each kind's records.
const (
	SourceDynamoDB = "aws:dynamodb"
	SourceSQS      = "aws:sqs"
)

// Mux routes an invocation to DynamoDB or SQS by its records' source.
type Mux struct {
	DynamoDB func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	SQS      func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
}

// Handle is the Lambda handler (lambda.Start(m.Handle)).
func (m *Mux) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownSource, err)
	}
	source := ""
	for i, r := range probe.Records {
		if i > 0 && r.EventSource != source {
			return nil, fmt.Errorf("%w: records of %q and %q in one batch", ErrUnknownSource, source, r.EventSource)
		}
		source = r.EventSource
	}
	switch {
	case source == SourceDynamoDB && m.DynamoDB != nil:
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("eventsource: read a DynamoDB stream batch: %w", err)
		}
		return m.DynamoDB(ctx, ev)
	case source == SourceSQS && m.SQS != nil:
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("eventsource: read an SQS batch: %w", err)
		}
		return m.SQS(ctx, ev)
	}
	return nil, fmt.Errorf("%w: eventSource %q (%d records)", ErrUnknownSource, source, len(probe.Records))
}
