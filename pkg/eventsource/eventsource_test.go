package eventsource_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/pkg/eventsource"
)

func TestMux(t *testing.T) {
	var gotDDB, gotSQS []string
	m := &eventsource.Mux{
		DynamoDB: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			for _, r := range ev.Records {
				gotDDB = append(gotDDB, r.Change.SequenceNumber)
			}
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "2"}}}, nil
		},
		SQS: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			for _, r := range ev.Records {
				gotSQS = append(gotSQS, r.MessageId)
			}
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "m2"}}}, nil
		},
	}
	tests := []struct {
		name, event string
		want        string // the response as JSON
		wantErr     bool
	}{
		{name: "a stream batch", event: `{"Records":[{"eventSource":"aws:dynamodb","eventName":"INSERT","dynamodb":{"SequenceNumber":"1"}},{"eventSource":"aws:dynamodb","eventName":"INSERT","dynamodb":{"SequenceNumber":"2"}}]}`,
			want: `{"batchItemFailures":[{"itemIdentifier":"2"}]}`},
		{name: "an SQS batch", event: `{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":"{}"},{"eventSource":"aws:sqs","messageId":"m2","body":"{}"}]}`,
			want: `{"batchItemFailures":[{"itemIdentifier":"m2"}]}`},
		{name: "mixed", event: `{"Records":[{"eventSource":"aws:sqs"},{"eventSource":"aws:dynamodb"}]}`, wantErr: true},
		{name: "another source", event: `{"Records":[{"eventSource":"aws:kinesis"}]}`, wantErr: true},
		{name: "no records", event: `{}`, wantErr: true},
		{name: "not JSON", event: `nope`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := m.Handle(context.Background(), json.RawMessage(tc.event))
			if tc.wantErr {
				if !errors.Is(err, eventsource.ErrUnknownSource) {
					t.Fatalf("err = %v, want ErrUnknownSource", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(out)
			if string(b) != tc.want {
				t.Errorf("response %s, want %s", b, tc.want)
			}
		})
	}
	if len(gotDDB) != 2 || gotDDB[1] != "2" || len(gotSQS) != 2 || gotSQS[0] != "m1" {
		t.Errorf("handled: stream %v, sqs %v", gotDDB, gotSQS)
	}
}
