package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/streamhook/fastpix-receiver/infra/awslocal"
	"github.com/streamhook/fastpix-receiver/infra/demo"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/internal/emulator"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

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
	posted, err := demo.Post(ctx, st.URL+localstack.WebhookPath, st.Secret, demo.Delivery{Type: eventType, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	if posted.Status != http.StatusOK {
		t.Fatalf("webhook: %d %s", posted.Status, posted.Answer)
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
	if f.RequestContext.Condition != awslocal.ConditionRetryAttemptsExhausted || f.Batch.BatchSize != 1 || f.Batch.StreamArn == "" ||
		invokes.RequestContext.ApproximateInvokeCount != source.MaximumRetryAttempts+1 {
		t.Fatalf("on-failure record %s: want %s, 1 record, %d invocations", msgs[0].Body, awslocal.ConditionRetryAttemptsExhausted, source.MaximumRetryAttempts+1)
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

func changeVisibility(ctx context.Context, endpoint, queueURL, receipt string, seconds int) error {
	return ops.QueryCall(ctx, nil, endpoint, url.Values{"Action": {"ChangeMessageVisibility"}, "QueueUrl": {queueURL},
		"ReceiptHandle": {receipt}, "VisibilityTimeout": {strconv.Itoa(seconds)}}, nil, 1<<20)
}

func queueDepth(ctx context.Context, endpoint, queueURL string) (visible, inFlight int, err error) {
	var out struct {
		Attributes []struct {
			Name  string `xml:"Name"`
			Value string `xml:"Value"`
		} `xml:"GetQueueAttributesResult>Attribute"`
	}
	if err := ops.QueryCall(ctx, nil, endpoint, url.Values{"Action": {"GetQueueAttributes"}, "QueueUrl": {queueURL}, "AttributeName.1": {"All"}}, &out, 1<<20); err != nil {
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
