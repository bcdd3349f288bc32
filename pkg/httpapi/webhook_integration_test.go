package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
)

// seeds are the original description's payloads, with their stream keys.
var seeds = []struct{ file, eventID, streamID, streamKey string }{
	{"seed-live_stream.created-1.json", "8fa0e3ea-3d5c-4712-8428-803b532bbc33", "a2ae2143-62a1-4eee-b888-4f1406148481", "FP_TRgf4CswLZ9UcHH3yTxQ"},
	{"seed-live_stream.created-2.json", "26c7a1a4-d049-4046-b54b-7967354949f0", "3dda81f7-c3c8-4090-b19c-ddc8bc885a8d", "FP_pbeAbQF5LUxPAdUseA0u"},
}

func readSeed(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile("../fastpix/testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func dynamoWebhook(t *testing.T) (*httpapi.Webhook, *dynamodb.Client, string, *bytes.Buffer) {
	t.Helper()
	client := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, client, "EventLogTable")
	var logs bytes.Buffer
	h := newWebhook(t, &eventstore.DynamoDB{Client: client, Table: table}, nil, &logs)
	return h, client, table, &logs
}

// Both seed payloads, signed, land once, redacted, and read back in order
// through the byStream index.
func TestSeedPayloadsStoredAndQueryable(t *testing.T) {
	h, client, table, logs := dynamoWebhook(t)
	ctx := context.Background()
	for _, s := range seeds {
		body := readSeed(t, s.file)
		for i, want := range []int{200, 200} {
			resp, err := h.Handle(ctx, post(body, signed(t, body)))
			if err != nil || resp.StatusCode != want {
				t.Fatalf("%s delivery %d: %d %s %v", s.file, i, resp.StatusCode, resp.Body, err)
			}
		}
	}
	for _, s := range seeds {
		out, err := client.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(table),
			IndexName:                 aws.String(eventstore.IndexByTime),
			KeyConditionExpression:    aws.String("#s = :s"),
			ExpressionAttributeNames:  map[string]string{"#s": eventstore.KeyStreamID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: s.streamID}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Items) != 1 {
			t.Fatalf("%s: its log has %d items, want 1", s.streamID, len(out.Items))
		}
		rec, err := eventstore.RecordFromItem(out.Items[0])
		if err != nil {
			t.Fatal(err)
		}
		if rec.EventID != s.eventID || rec.Type != fastpix.TypeLiveStreamCreated || rec.WorkspaceName != "Development" || rec.ObjectType != "live" {
			t.Errorf("record = %+v", rec)
		}
		var payload map[string]any
		if err := json.Unmarshal([]byte(rec.Payload), &payload); err != nil {
			t.Fatalf("payload is not JSON: %v", err)
		}
		if got := payload["data"].(map[string]any)["streamKey"]; got != fastpix.Redacted {
			t.Errorf("streamKey stored as %v", got)
		}
		assertNoCredential(t, out.Items[0], s.streamKey)
	}
	if strings.Contains(logs.String(), seeds[0].streamKey) {
		t.Error("a stream key reached the log")
	}
}

// assertNoCredential checks every attribute of an item, not just payload.
func assertNoCredential(t *testing.T, item map[string]types.AttributeValue, secrets ...string) {
	t.Helper()
	for name, v := range item {
		var s string
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			s = v.Value
		case *types.AttributeValueMemberN:
			s = v.Value
		}
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("attribute %s holds a credential", name)
			}
		}
	}
}

// 50 deliveries of one event at once store one item: one accepted answer,
// 49 duplicates, all 200.
func TestConcurrentDeliveriesStoreOnce(t *testing.T) {
	h, client, table, _ := dynamoWebhook(t)
	body := readSeed(t, seeds[0].file)
	headers := signed(t, body)
	const n = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.Handle(context.Background(), post(body, headers))
			var ans answer
			_ = json.Unmarshal([]byte(resp.Body), &ans)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || resp.StatusCode != 200 {
				outcomes["failed"]++
				return
			}
			outcomes[ans.Status]++
		}()
	}
	wg.Wait()
	if outcomes["accepted"] != 1 || outcomes["duplicate"] != n-1 {
		t.Errorf("outcomes = %v, want 1 accepted and %d duplicates", outcomes, n-1)
	}
	out, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Count != 1 {
		t.Errorf("table holds %d items, want 1", out.Count)
	}
}

// With DynamoDB unreachable, the answer is a 5xx, so FastPix retries.
func TestStorageUnreachableIs5xx(t *testing.T) {
	var logs bytes.Buffer
	store := &eventstore.DynamoDB{Client: testenv.DynamoDBAt("http://127.0.0.1:1"), Table: "EventLogTable"}
	h := newWebhook(t, store, nil, &logs)
	h.Receiver.(*ingest.Receiver).StoreTimeout = 3 * time.Second
	body := readSeed(t, seeds[0].file)
	resp, err := h.Handle(context.Background(), post(body, signed(t, body)))
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("= %d %s %v; want 503", resp.StatusCode, resp.Body, err)
	}
	if !strings.Contains(logs.String(), `"outcome":"unavailable"`) || !strings.Contains(logs.String(), "connect") {
		t.Errorf("the log line does not say what failed: %s", logs.String())
	}
}
