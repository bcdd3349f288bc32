package board

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// The fleet is read page by page with the listing's cursor, signed when
// credentials are given; an error answer or an endless cursor is an error.
func TestFleetAPI(t *testing.T) {
	var auths []string
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auths = append(auths, r.Header.Get("Authorization"))
		queries = append(queries, r.URL.RawQuery)
		switch r.URL.Query().Get("cursor") {
		case "":
			json.NewEncoder(w).Encode(map[string]any{"streams": []map[string]any{{"streamId": "a", "status": "active", "since": "t1", "simulcastTargets": map[string]any{"yt": map[string]string{"status": "broadcasting", "since": "t1"}}}}, "nextCursor": "c1"})
		case "c1":
			json.NewEncoder(w).Encode(map[string]any{"streams": []map[string]any{{"streamId": "b", "status": "idle", "since": "t0", "alert": "held"}}})
		case "loop":
			json.NewEncoder(w).Encode(map[string]any{"streams": []any{}, "nextCursor": "loop"})
		default:
			http.Error(w, `{"message":"Forbidden"}`, http.StatusForbidden)
		}
	}))
	defer srv.Close()
	f := &FleetAPI{URL: srv.URL + "/streams", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), Region: "eu-west-1",
		Now: func() time.Time { return time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC) }}
	got, err := f.List(context.Background(), []string{"active", "idle"}, "ws 1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SimulcastTargets["yt"].Status != "broadcasting" || got[1].Alert != AlertHeld {
		t.Fatalf("got %+v", got)
	}
	if !strings.Contains(queries[0], "status=active%2Cidle") || !strings.Contains(queries[0], "workspace=ws%201") || !strings.Contains(queries[0], "limit=100") || !strings.Contains(queries[1], "cursor=c1") {
		t.Fatalf("queries %v", queries)
	}
	for _, a := range auths {
		if !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261204/eu-west-1/execute-api/aws4_request") {
			t.Fatalf("not SigV4-signed for execute-api: %q", a)
		}
		if strings.Contains(a, "secret") {
			t.Fatal("the secret key went over the wire")
		}
	}
	// Unsigned against the local stack.
	auths = nil
	if _, err := (&FleetAPI{URL: srv.URL + "/streams"}).List(context.Background(), []string{"active"}, ""); err != nil || auths[0] != "" {
		t.Fatalf("unsigned: %v %q", err, auths)
	}
	// A refusal says what the API answered.
	err = (&FleetAPI{URL: srv.URL + "/streams"}).get(context.Background(), map[string][]string{"cursor": {"x"}}, &struct{}{})
	if !errors.Is(err, ErrFleet) || !strings.Contains(err.Error(), "403") {
		t.Fatalf("refusal: %v", err)
	}
	for _, bad := range []string{"", "not a url", "/streams"} {
		if _, err := (&FleetAPI{URL: bad}).List(context.Background(), []string{"active"}, ""); !errors.Is(err, ErrFleet) {
			t.Errorf("URL %q: %v", bad, err)
		}
	}
}

func TestFleetAPIStopsAnEndlessCursor(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 requests")
	}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Write([]byte(`{"streams":[],"nextCursor":"again"}`))
	}))
	defer srv.Close()
	_, err := (&FleetAPI{URL: srv.URL}).List(context.Background(), []string{"active"}, "")
	if !errors.Is(err, ErrFleet) || n != maxFleetPages {
		t.Fatalf("after %d pages: %v", n, err)
	}
}

// fakeSQS records what SDKQueues asks of SQS.
type fakeSQS struct {
	SQSAPI
	batches [][]string
	created *sqs.CreateQueueInput
	urlOf   *sqs.GetQueueUrlInput
}

func (f *fakeSQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	var rs []string
	for _, e := range in.Entries {
		rs = append(rs, aws.ToString(e.ReceiptHandle))
	}
	f.batches = append(f.batches, rs)
	return &sqs.DeleteMessageBatchOutput{}, nil
}

func (f *fakeSQS) CreateQueue(_ context.Context, in *sqs.CreateQueueInput, _ ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	f.created = in
	return &sqs.CreateQueueOutput{QueueUrl: aws.String("https://sqs.eu-west-1.amazonaws.com/123/" + aws.ToString(in.QueueName))}, nil
}

func (f *fakeSQS) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{string(sqstypes.QueueAttributeNameQueueArn): "arn:aws:sqs:eu-west-1:123:q"}}, nil
}

func (f *fakeSQS) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	f.urlOf = in
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs/" + aws.ToString(in.QueueName))}, nil
}

func TestSDKQueues(t *testing.T) {
	f := &fakeSQS{}
	q := &SDKQueues{Client: f}
	ctx := context.Background()
	receipts := make([]string, 23)
	for i := range receipts {
		receipts[i] = string(rune('a' + i))
	}
	if err := q.Delete(ctx, "u", receipts); err != nil {
		t.Fatal(err)
	}
	if len(f.batches) != 3 || len(f.batches[0]) != 10 || len(f.batches[2]) != 3 {
		t.Fatalf("batches %v: SQS takes 10 at most", f.batches)
	}
	u, arn, err := q.Create(ctx, "fastpix-board-x-1-y", map[string]string{"MessageRetentionPeriod": "3600"}, map[string]string{TagBoard: "x/1"})
	if err != nil || arn != "arn:aws:sqs:eu-west-1:123:q" || !strings.HasSuffix(u, "/fastpix-board-x-1-y") || f.created.Tags[TagBoard] != "x/1" {
		t.Fatalf("create: %s %s %v %+v", u, arn, err, f.created)
	}
	if u, err := q.URL(ctx, "arn:aws:sqs:eu-west-1:123:fastpix-board-x-1-y"); err != nil || u != "https://sqs/fastpix-board-x-1-y" || aws.ToString(f.urlOf.QueueOwnerAWSAccountId) != "123" {
		t.Fatalf("URL: %s %v", u, err)
	}
	for _, bad := range []string{"", "arn:aws:sns:eu-west-1:123:t", "arn:aws:sqs:eu-west-1::q", "q"} {
		if _, err := q.URL(ctx, bad); err == nil {
			t.Errorf("URL(%q) accepted", bad)
		}
	}
}

func TestRunCommandRefusesWhatItCannotUse(t *testing.T) {
	t.Setenv(EnvAPIURL, "")
	t.Setenv(EnvTopic, "")
	t.Setenv("AWS_ENDPOINT_URL_SQS", "")
	noAWS := func(context.Context) (aws.Config, error) { return aws.Config{}, errors.New("no AWS wanted") }
	var out strings.Builder
	for args, want := range map[string]string{
		"":                      "board: required: -api (or STREAMS_API_URL, the StreamsApiUrl output), -topic (or CHANGES_TOPIC_ARN, the StreamChangesTopicArn output)",
		"-api http://x/streams": "board: required: -topic (or CHANGES_TOPIC_ARN",
		"-api http://x/streams -topic arn:t -sqs-protocol xml": "no AWS wanted", // the config is loaded first
	} {
		err := RunCommand(context.Background(), strings.Fields(args), &out, noAWS)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("board %s: %v, want %q", args, err, want)
		}
	}
	withAWS := func(context.Context) (aws.Config, error) { return aws.Config{Region: "us-east-1"}, nil }
	if err := RunCommand(context.Background(), strings.Fields("-api http://x/streams -topic arn:t -sqs-protocol xml"), &out, withAWS); err == nil || !strings.Contains(err.Error(), "json, query or auto") {
		t.Errorf("-sqs-protocol xml: %v", err)
	}
	if err := RunCommand(context.Background(), strings.Fields("-api http://x/streams -topic arn:t -sqs-protocol query"), &out, withAWS); err == nil || !strings.Contains(err.Error(), "AWS_ENDPOINT_URL_SQS") {
		t.Errorf("-sqs-protocol query without an endpoint: %v", err)
	}
}
