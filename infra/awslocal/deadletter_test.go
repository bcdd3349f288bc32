package awslocal_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamhook/fastpix-receiver/infra/awslocal"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// TestPollerGivesUp checks what the event source stand-in hands its
// on-failure destination, on a real DynamoDB Local stream: the records not
// processed, why, after how many deliveries; and that a batch whose
// destination fails is kept, not lost.
func TestPollerGivesUp(t *testing.T) {
	client := testenv.DynamoDB(t)
	streams := testenv.Streams(t)
	filter := insertsOnly(t)
	type recorded struct {
		ids           []string
		condition     string
		attempts      int
		functionError bool
	}
	tests := []struct {
		name       string
		maxRetries int
		maxAge     time.Duration
		// failFrom: the handler reports this record and every later one as
		// failed; "" returns an error instead.
		failFrom string
		// destErrs: how many times the destination fails before it takes
		// the batch.
		destErrs int
		want     recorded
		// deliveries is the sequence of event ids the handler saw.
		deliveries []string
	}{
		{"retries exhausted: the records from the first reported failure", 2, 0, "e2", 0,
			recorded{[]string{"e2", "e3", "e4"}, awslocal.ConditionRetryAttemptsExhausted, 3, false},
			[]string{"e0", "e1", "e2", "e3", "e4", "e2", "e3", "e4", "e2", "e3", "e4"}},
		{"a function error with no retries: the whole batch", 0, 0, "", 0,
			recorded{[]string{"e0", "e1", "e2", "e3", "e4"}, awslocal.ConditionRetryAttemptsExhausted, 1, true},
			[]string{"e0", "e1", "e2", "e3", "e4"}},
		{"record too old: given up at the first failure despite unlimited retries", -1, time.Nanosecond, "e3", 0,
			recorded{[]string{"e3", "e4"}, awslocal.ConditionRecordAgeExceeded, 1, false},
			[]string{"e0", "e1", "e2", "e3", "e4"}},
		{"the destination fails once: the batch is delivered again, then recorded", 0, 0, "", 1,
			recorded{[]string{"e0", "e1", "e2", "e3", "e4"}, awslocal.ConditionRetryAttemptsExhausted, 2, true},
			[]string{"e0", "e1", "e2", "e3", "e4", "e0", "e1", "e2", "e3", "e4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table := testenv.CreateTable(t, client, "EventLogTable")
			desc, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				put(t, client, table, fmt.Sprintf("e%d", i), "v1")
			}
			arn := aws.ToString(desc.Table.LatestStreamArn)

			var mu sync.Mutex
			var seen []string
			var got []recorded
			var batches []awslocal.FailedBatch
			destCalls := 0
			activity := make(chan struct{}, 100)
			handler := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				defer func() { activity <- struct{}{} }()
				var resp events.DynamoDBEventResponse
				failing := false
				for _, r := range ev.Records {
					id := r.Change.Keys[eventstore.KeyEventID].String()
					mu.Lock()
					seen = append(seen, id)
					mu.Unlock()
					if id == tc.failFrom {
						failing = true
					}
					if failing {
						resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
					}
				}
				if tc.failFrom == "" {
					return events.DynamoDBEventResponse{}, errors.New("the notifier failed")
				}
				return resp, nil
			}
			onFailure := func(_ context.Context, b awslocal.FailedBatch) error {
				defer func() { activity <- struct{}{} }()
				mu.Lock()
				defer mu.Unlock()
				if destCalls++; destCalls <= tc.destErrs {
					return errors.New("queue unreachable")
				}
				r := recorded{condition: b.Condition, attempts: b.Attempts, functionError: b.FunctionError}
				for _, rec := range b.Records {
					if v, ok := rec.Dynamodb.Keys[eventstore.KeyEventID].(*streamstypes.AttributeValueMemberS); ok {
						r.ids = append(r.ids, v.Value)
					}
				}
				got = append(got, r)
				batches = append(batches, b)
				return nil
			}
			p := &awslocal.Poller{
				Client: streams, StreamARN: arn, Handler: handler, Filter: filter,
				StartingPosition: "TRIM_HORIZON", BatchSize: 100, ReportBatchItemFailures: true,
				MaximumRetryAttempts: tc.maxRetries, MaximumRecordAge: tc.maxAge, OnFailure: onFailure,
				Interval: 20 * time.Millisecond, RetryDelay: 20 * time.Millisecond,
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = p.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()

			deadline := time.After(30 * time.Second)
			for {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n > 0 {
					break
				}
				select {
				case <-activity:
				case <-deadline:
					mu.Lock()
					defer mu.Unlock()
					t.Fatalf("nothing recorded; the handler saw %v", seen)
				}
			}
			// The batch is gone from the poller: nothing more is delivered.
			quiet := time.After(300 * time.Millisecond)
			for waiting := true; waiting; {
				select {
				case <-activity:
				case <-quiet:
					waiting = false
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 {
				t.Fatalf("recorded %d times: %+v", len(got), got)
			}
			r := got[0]
			if !slices.Equal(r.ids, tc.want.ids) || r.condition != tc.want.condition || r.attempts != tc.want.attempts || r.functionError != tc.want.functionError {
				t.Fatalf("recorded %+v, want %+v", r, tc.want)
			}
			if !slices.Equal(seen, tc.deliveries) {
				t.Fatalf("the handler saw %v, want %v", seen, tc.deliveries)
			}

			// Lambda's on-failure record of it, as redrive reads it.
			b := batches[0]
			body, err := json.Marshal(awslocal.NewOnFailureRecord(b, "arn:aws:lambda:us-east-1:100010001000:function:n", time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			f, err := ops.ParseFailureRecord(string(body))
			if err != nil {
				t.Fatalf("redrive cannot read %s: %v", body, err)
			}
			first, last := b.Records[0].Dynamodb, b.Records[len(b.Records)-1].Dynamodb
			if f.RequestContext.Condition != tc.want.condition || f.Batch.StreamArn != arn || f.Batch.ShardID != b.ShardID ||
				f.Batch.StartSequenceNumber != aws.ToString(first.SequenceNumber) || f.Batch.EndSequenceNumber != aws.ToString(last.SequenceNumber) ||
				f.Batch.BatchSize != len(tc.want.ids) || f.Batch.ApproximateArrivalOfFirstRecord.IsZero() {
				t.Fatalf("on-failure record %s", body)
			}
		})
	}
}

// queryCall posts a query-protocol SQS action to goaws (the calls
// ops.QueryQueue has no use for).
func queryCall(ctx context.Context, endpoint string, form url.Values, out any) error {
	form.Set("Version", "2012-11-05")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d %s", form.Get("Action"), resp.StatusCode, body)
	}
	if out != nil {
		return xml.Unmarshal(body, out)
	}
	return nil
}

func changeVisibility(ctx context.Context, endpoint, queueURL, receipt string, seconds int) error {
	return queryCall(ctx, endpoint, url.Values{"Action": {"ChangeMessageVisibility"}, "QueueUrl": {queueURL},
		"ReceiptHandle": {receipt}, "VisibilityTimeout": {strconv.Itoa(seconds)}}, nil)
}

func queueDepth(ctx context.Context, endpoint, queueURL string) (visible, inFlight int, err error) {
	var out struct {
		Attributes []struct {
			Name  string `xml:"Name"`
			Value string `xml:"Value"`
		} `xml:"GetQueueAttributesResult>Attribute"`
	}
	if err := queryCall(ctx, endpoint, url.Values{"Action": {"GetQueueAttributes"}, "QueueUrl": {queueURL}, "AttributeName.1": {"All"}}, &out); err != nil {
		return 0, 0, err
	}
	visible, inFlight = -1, -1
	for _, a := range out.Attributes {
		switch a.Name {
		case "ApproximateNumberOfMessages":
			visible, _ = strconv.Atoi(a.Value)
		case "ApproximateNumberOfMessagesNotVisible":
			inFlight, _ = strconv.Atoi(a.Value)
		}
	}
	if visible < 0 || inFlight < 0 {
		return 0, 0, errors.New("GetQueueAttributes: no message counts")
	}
	return visible, inFlight, nil
}
