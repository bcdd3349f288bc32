package localstack_test

import (
	"bytes"
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
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/internal/emulator"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
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
			recorded{[]string{"e2", "e3", "e4"}, localstack.ConditionRetryAttemptsExhausted, 3, false},
			[]string{"e0", "e1", "e2", "e3", "e4", "e2", "e3", "e4", "e2", "e3", "e4"}},
		{"a function error with no retries: the whole batch", 0, 0, "", 0,
			recorded{[]string{"e0", "e1", "e2", "e3", "e4"}, localstack.ConditionRetryAttemptsExhausted, 1, true},
			[]string{"e0", "e1", "e2", "e3", "e4"}},
		{"record too old: given up at the first failure despite unlimited retries", -1, time.Nanosecond, "e3", 0,
			recorded{[]string{"e3", "e4"}, localstack.ConditionRecordAgeExceeded, 1, false},
			[]string{"e0", "e1", "e2", "e3", "e4"}},
		{"the destination fails once: the batch is delivered again, then recorded", 0, 0, "", 1,
			recorded{[]string{"e0", "e1", "e2", "e3", "e4"}, localstack.ConditionRetryAttemptsExhausted, 2, true},
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
			var batches []localstack.FailedBatch
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
			onFailure := func(_ context.Context, b localstack.FailedBatch) error {
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
			p := &localstack.Poller{
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
			body, err := json.Marshal(localstack.NewOnFailureRecord(b, "arn:aws:lambda:us-east-1:100010001000:function:n", time.Now()))
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

// TestDeadLetterRedrive runs the whole repair path on the local stack: with
// the state table gone from DynamoDB Local (a failure a retry can cure, so
// retried, unlike SNS refusing an alert: TestReplayAndRedriveAlertAsLiveDoes),
// the notifier fails on an event until the event source gives up (the
// template's MaximumRetryAttempts) and records the batch in the template's
// dead-letter queue; once the table is back, infra/ops' redrive re-reads
// the batch from the stream, the alert arrives in the inbox and the message
// leaves the queue.
func TestDeadLetterRedrive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DynamoDB Local and goaws")
	}
	raw, err := samtemplate.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	source, err := raw.StreamSource("NotifierFunction")
	if err != nil {
		t.Fatal(err)
	}
	if source.MaximumRetryAttempts < 0 || source.OnFailure.Sub == "" {
		t.Skip("template.yaml's notifier retries for ever or has no on-failure destination")
	}

	ctx, st, logs := startStack(t, 2*time.Minute, localstack.Config{RetryDelay: 50 * time.Millisecond})

	queueURL := st.Queues[st.DeadLetterQueue]
	if st.DeadLetterQueue != "NotifierDeadLetterQueue" || queueURL == "" {
		t.Fatalf("dead-letter queue %q at %q; queues %v", st.DeadLetterQueue, queueURL, st.Queues)
	}
	dlq := &ops.QueryQueue{Endpoint: st.SNSEndpoint, URL: queueURL}

	awsCfg := aws.Config{Region: emulator.Region, Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(st.DynamoDBEndpoint) })
	streams := dynamodbstreams.NewFromConfig(awsCfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(st.DynamoDBEndpoint) })

	// The state table disappears: every pass of the notifier fails.
	const eventType = "video.live_stream.active"
	topic, ok := st.Routes.Topic(eventType)
	if !ok {
		t.Fatalf("no route for %s", eventType)
	}
	stateTable, err := raw.CreateTableInput("StreamStateTable", st.StateTable)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(st.StateTable)}); err != nil {
		t.Fatal(err)
	}
	alertsBefore := len(st.Inbox.Alerts())

	streamID := "dlq-stream"
	body := fmt.Sprintf(`{"type":%q,"id":"dlq-0001","object":{"type":"live","id":%q},"createdAt":%q,"data":{"streamId":%q,"status":"active"}}`,
		eventType, streamID, time.Now().UTC().Format(time.RFC3339), streamID)
	sig, err := fastpix.Sign(st.Secret, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.URL+localstack.WebhookPath, strings.NewReader(body))
	req.Header.Set("FastPix-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d %s", resp.StatusCode, answer)
	}

	// The event source gives up and the on-failure record lands in goaws.
	var msgs []ops.Message
	for deadline := time.Now().Add(30 * time.Second); len(msgs) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no message in the dead-letter queue after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
		if msgs, err = dlq.Receive(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the dead-letter queue, want 1", len(msgs))
	}
	f, err := ops.ParseFailureRecord(msgs[0].Body)
	if err != nil {
		t.Fatalf("%s: %v", msgs[0].Body, err)
	}
	var invokes struct {
		RequestContext struct {
			ApproximateInvokeCount int `json:"approximateInvokeCount"`
		} `json:"requestContext"`
	}
	_ = json.Unmarshal([]byte(msgs[0].Body), &invokes)
	if f.RequestContext.Condition != localstack.ConditionRetryAttemptsExhausted || f.Batch.BatchSize != 1 || f.Batch.StreamArn == "" ||
		invokes.RequestContext.ApproximateInvokeCount != source.MaximumRetryAttempts+1 {
		t.Fatalf("on-failure record %s: want %s, 1 record, %d invocations", msgs[0].Body, localstack.ConditionRetryAttemptsExhausted, source.MaximumRetryAttempts+1)
	}
	if !strings.Contains(logs.String(), "gave up on a batch") {
		t.Fatal("the stack did not log the batch it gave up on")
	}
	if n := len(st.Inbox.Alerts()); n != alertsBefore {
		t.Fatalf("%d alerts arrived while the state table was gone", n-alertsBefore)
	}
	// Put the message back in view for redrive (our Receive hid it for the
	// queue's visibility timeout).
	if err := changeVisibility(ctx, st.SNSEndpoint, queueURL, msgs[0].Receipt, 0); err != nil {
		t.Fatal(err)
	}

	// The table comes back, empty (the stream's state is rebuilt from its
	// log).
	if _, err := ddb.CreateTable(ctx, stateTable); err != nil {
		t.Fatal(err)
	}

	// fastpixctl redrive, as `make ctl-local ARGS=redrive` wires it.
	var out bytes.Buffer
	r := &ops.Redriver{
		Queue:     dlq,
		Streams:   streams,
		Events:    &eventstore.RangeReader{Client: ddb, Table: st.EventsTable},
		Processor: st.Notifier,
		Resender:  st.Notifier,
		Out:       &out,
	}
	sum, err := r.Redrive(ctx)
	if err != nil {
		t.Fatalf("redrive: %v\n%s", err, out.String())
	}
	if sum.Messages != 1 || sum.Deleted != 1 || sum.Records != 1 || sum.FromTable != 0 {
		t.Fatalf("redrive %+v, want 1 message deleted, 1 event from the stream\n%s", sum, out.String())
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 10*time.Second)
	defer waitCancel()
	got, err := st.Inbox.WaitFor(waitCtx, alertsBefore+1)
	if err != nil {
		t.Fatal(err)
	}
	a := got[len(got)-1]
	if a.TopicARN != topic || !strings.Contains(a.Default+a.Email, streamID) {
		t.Fatalf("alert %+v, want one about %s on %s", a, streamID, topic)
	}

	// The message is gone: neither visible nor in flight.
	visible, inFlight, err := queueDepth(ctx, st.SNSEndpoint, queueURL)
	if err != nil {
		t.Fatal(err)
	}
	if visible != 0 || inFlight != 0 {
		t.Fatalf("after redrive the queue holds %d visible and %d in-flight messages", visible, inFlight)
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
