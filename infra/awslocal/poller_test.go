package awslocal_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/infra/awslocal"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// insertsOnly is the template's filter on the notifier's stream.
func insertsOnly(t *testing.T) *awslocal.Filter {
	t.Helper()
	f, err := awslocal.NewFilter([]string{`{"eventName":["INSERT"]}`})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPoller runs the event source mapping stand-in on a real DynamoDB
// Local stream: inserts reach the handler in order, modifications are
// filtered out, and failures are delivered again as Lambda does.
func TestPoller(t *testing.T) {
	client := testenv.DynamoDB(t)
	streams := testenv.Streams(t)
	filter := insertsOnly(t)

	tests := []struct {
		name       string
		reportItem bool
		maxRetries int
		// fail decides, per delivery, what the handler answers; attempt
		// counts the deliveries of the batch's first record.
		fail func(batch []string, attempt int) (failedFrom string, err error)
		// want is the sequence of event ids the handler saw, in order.
		want []string
	}{
		{"every insert once, in order", true, -1,
			func([]string, int) (string, error) { return "", nil },
			[]string{"e0", "e1", "e2", "e3", "e4"}},
		{"a reported failure is delivered again from that record", true, -1,
			func(batch []string, attempt int) (string, error) {
				if batch[0] == "e0" && attempt == 1 {
					return "e2", nil
				}
				return "", nil
			},
			[]string{"e0", "e1", "e2", "e3", "e4", "e2", "e3", "e4"}},
		{"an error delivers the whole batch again", true, -1,
			func(batch []string, attempt int) (string, error) {
				if attempt == 1 {
					return "", errors.New("throttled")
				}
				return "", nil
			},
			[]string{"e0", "e1", "e2", "e3", "e4", "e0", "e1", "e2", "e3", "e4"}},
		{"reported failures are ignored without ReportBatchItemFailures", false, -1,
			func([]string, int) (string, error) { return "e1", nil },
			[]string{"e0", "e1", "e2", "e3", "e4"}},
		{"dropped after the maximum retries", true, 1,
			func([]string, int) (string, error) { return "", errors.New("always") },
			[]string{"e0", "e1", "e2", "e3", "e4", "e0", "e1", "e2", "e3", "e4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table := testenv.CreateTable(t, client, "EventLogTable")
			desc, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
			if err != nil {
				t.Fatal(err)
			}
			// All writes happen before polling starts, so they come in one
			// GetRecords batch: five inserts and a modification.
			for i := range 5 {
				put(t, client, table, fmt.Sprintf("e%d", i), "v1")
			}
			put(t, client, table, "e1", "v2")

			var mu sync.Mutex
			var seen []string
			attempts := map[string]int{}
			deliveries := make(chan struct{}, 100)
			handler := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				var batch []string
				seq := map[string]string{}
				for _, r := range ev.Records {
					if r.EventName != "INSERT" {
						t.Errorf("%s record reached the handler", r.EventName)
					}
					id := r.Change.Keys[eventstore.KeyEventID].String()
					batch = append(batch, id)
					seq[id] = r.Change.SequenceNumber
				}
				mu.Lock()
				seen = append(seen, batch...)
				attempts[batch[0]]++
				n := attempts[batch[0]]
				mu.Unlock()
				defer func() { deliveries <- struct{}{} }()
				from, err := tc.fail(batch, n)
				if err != nil {
					return events.DynamoDBEventResponse{}, err
				}
				var resp events.DynamoDBEventResponse
				if from != "" {
					resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: seq[from]}}
				}
				return resp, nil
			}
			p := &awslocal.Poller{
				Client: streams, StreamARN: aws.ToString(desc.Table.LatestStreamArn), Handler: handler, Filter: filter,
				StartingPosition: "TRIM_HORIZON", BatchSize: 100, ReportBatchItemFailures: tc.reportItem,
				MaximumRetryAttempts: tc.maxRetries, Interval: 20 * time.Millisecond, RetryDelay: 20 * time.Millisecond,
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = p.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()

			deadline := time.After(30 * time.Second)
			for {
				mu.Lock()
				n := len(seen)
				mu.Unlock()
				if n >= len(tc.want) {
					break
				}
				select {
				case <-deliveries:
				case <-deadline:
					t.Fatalf("handler saw %v, want %v", seen, tc.want)
				}
			}
			// Nothing more arrives: one more full poll cycle after the
			// expected deliveries (the retry delay and interval are 20 ms).
			select {
			case <-deliveries:
			case <-time.After(300 * time.Millisecond):
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(seen, tc.want) {
				t.Fatalf("handler saw %v, want %v", seen, tc.want)
			}
		})
	}
}

func put(t *testing.T, client *dynamodb.Client, table, id, v string) {
	t.Helper()
	_, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			// Each its own stream: one item, one key, as the lanes hash.
			eventstore.KeyStreamID: &types.AttributeValueMemberS{Value: "s-" + id},
			eventstore.KeyEventID:  &types.AttributeValueMemberS{Value: id},
			eventstore.AttrType:    &types.AttributeValueMemberS{Value: "video.live_stream.active"},
			"v":                    &types.AttributeValueMemberS{Value: v},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}
