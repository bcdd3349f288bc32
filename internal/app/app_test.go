package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamhook/fastpix-receiver/internal/app/notifier"
	"github.com/streamhook/fastpix-receiver/internal/app/streams"
	"github.com/streamhook/fastpix-receiver/internal/app/webhook"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/secrets"
)

const secret = "ZGVtby1zZWNyZXQ=" // base64("demo-secret")

func post(t *testing.T, body, key string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	sig, err := fastpix.Sign(key, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	req := events.APIGatewayV2HTTPRequest{
		RouteKey: "POST /webhooks/fastpix", RawPath: "/webhooks/fastpix", Body: body,
		Headers: map[string]string{"fastpix-signature": sig, "content-type": "application/json"},
	}
	req.RequestContext.HTTP.Method = http.MethodPost
	return req
}

// TestConstructorsTogether builds the three functions as their Lambdas do,
// from an environment, against DynamoDB Local: a signed delivery is stored
// with the configured retention, its stream record moves the stream's state
// through the notifier, the query function reads that state back, and the
// webhook and the notifier write their metrics.
func TestConstructorsTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("needs DynamoDB Local")
	}
	ctx := context.Background()
	ddb := testenv.DynamoDB(t)
	eventsTable := testenv.CreateTable(t, ddb, "EventLogTable")
	stateTable := testenv.CreateTable(t, ddb, "StreamStateTable")
	env := map[string]string{
		"EVENTS_TABLE": eventsTable, "STATE_TABLE": stateTable, "RETENTION_DAYS": "7",
		secrets.EnvSecret: secret, "PUBLISH_TEST_EVENTS": "true", "DISCONNECT_GRACE_SECONDS": "0",
	}
	getenv := func(k string) string { return env[k] }
	awsCfg := testenv.AWSConfig()
	awsCfg.BaseEndpoint = aws.String(testenv.DynamoDBEndpoint(t))
	logs, webhookMetrics, notifierMetrics := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()

	wcfg, err1 := webhook.ConfigFromEnv(getenv)
	ncfg, err2 := notifier.ConfigFromEnv(getenv)
	scfg, err3 := streams.ConfigFromEnv(getenv)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	hook, err1 := webhook.New(wcfg, awsCfg, log, webhookMetrics)
	note, err2 := notifier.New(ncfg, awsCfg, log, notifierMetrics)
	query, err3 := streams.New(scfg, awsCfg, log)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}

	const body = `{"id":"app-e1","type":"video.live_stream.active","object":{"type":"live","id":"app-s1"},"createdAt":"2026-01-01T12:00:00Z","data":{"streamId":"app-s1","status":"active","streamKey":"FP_made_up"}}`
	for _, tt := range []struct {
		name, key string
		status    int
	}{
		{"signed with the configured secret", secret, http.StatusOK},
		{"signed with another", "b3RoZXItc2VjcmV0", http.StatusUnauthorized},
	} {
		resp, err := hook.Handle(ctx, post(t, body, tt.key))
		if err != nil || resp.StatusCode != tt.status {
			t.Fatalf("%s: %d %s, %v; want %d", tt.name, resp.StatusCode, resp.Body, err, tt.status)
		}
	}

	// The retention the environment set, not the default.
	item, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(eventsTable), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{
			eventstore.KeyStreamID: &ddbtypes.AttributeValueMemberS{Value: "app-s1"},
			eventstore.KeyEventID:  &ddbtypes.AttributeValueMemberS{Value: "app-e1"},
		},
	})
	if err != nil || item.Item == nil {
		t.Fatalf("stored item: %v, %v", item, err)
	}
	exp, ok := item.Item[eventstore.AttrExpiresAt].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		t.Fatalf("no %s on the item", eventstore.AttrExpiresAt)
	}
	secs, _ := strconv.ParseInt(exp.Value, 10, 64)
	if left := time.Until(time.Unix(secs, 0)); left < 6*24*time.Hour || left > 8*24*time.Hour {
		t.Errorf("expires in %v, want about 7 days (RETENTION_DAYS)", left)
	}

	reader := testenv.NewStreamReader(t, ddb, eventsTable)
	recs := reader.ReadUntil(t, 30*time.Second, func(r []streamstypes.Record) bool { return len(r) >= 1 })
	out, err := note.Stream.Handle(ctx, ddbstream.FromStreamsRecords(reader.ARN, recs))
	if err != nil || len(out.BatchItemFailures) != 0 {
		t.Fatalf("notifier: %v, %d failures", err, len(out.BatchItemFailures))
	}

	req := events.APIGatewayV2HTTPRequest{RouteKey: httpapi.RouteStream, RawPath: "/streams/app-s1", PathParameters: map[string]string{"streamId": "app-s1"}}
	req.RequestContext.HTTP.Method = http.MethodGet
	resp, err := query.Handle(ctx, req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /streams/app-s1: %d %s, %v", resp.StatusCode, resp.Body, err)
	}
	var state struct{ Status, LastEventID string }
	if err := json.Unmarshal([]byte(resp.Body), &state); err != nil || state.Status != "active" || state.LastEventID != "app-e1" {
		t.Errorf("state %s (%v), want active after app-e1", resp.Body, err)
	}

	// The fleet listing reads the same state through its index.
	req = events.APIGatewayV2HTTPRequest{RouteKey: httpapi.RouteFleet, RawPath: "/streams", QueryStringParameters: map[string]string{"status": "active"}}
	req.RequestContext.HTTP.Method = http.MethodGet
	resp, err = query.Handle(ctx, req)
	var fleet httpapi.FleetPage
	if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &fleet) != nil ||
		len(fleet.Streams) != 1 || fleet.Streams[0].StreamID != "app-s1" {
		t.Errorf("GET /streams?status=active: %d %s, %v; want app-s1 listed", resp.StatusCode, resp.Body, err)
	}

	for fn, out := range map[string]*testenv.SyncBuffer{"webhook": webhookMetrics, "notifier": notifierMetrics} {
		if !strings.Contains(out.String(), `"Function":"`+fn+`"`) || !strings.Contains(out.String(), `"_aws"`) {
			t.Errorf("%s wrote no metric: %q", fn, out.String())
		}
	}
}
