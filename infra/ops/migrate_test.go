package ops_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// Events stored under the previous layout are found in the log after the
// migration, each once, in order; a second migration copies nothing.
func TestMigrateEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old := testenv.CreateOldEventsTable(t, e.ddb)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	var last eventstore.Record
	for i, typ := range []string{"created", "connected", "active", "disconnected", "idle"} {
		r := eventstore.Record{
			EventID: fmt.Sprintf("old-%d", i), Type: "video.live_stream." + typ, StreamID: "stream-old",
			OccurredAt: eventstore.FormatTime(base.Add(time.Duration(i) * time.Minute)), ReceivedAt: eventstore.FormatTime(base.Add(time.Hour)),
			Payload: fmt.Sprintf(`{"id":"old-%d","type":"video.live_stream.%s"}`, i, typ),
		}
		last = r
		item := r.Item()
		// The previous layout: no log key, no order key.
		delete(item, eventstore.AttrOrderKey)
		if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(old), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	// An event of no stream, and one already migrated by hand.
	if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(old), Item: map[string]types.AttributeValue{
		"eventId": &types.AttributeValueMemberS{Value: "old-media"}, "type": &types.AttributeValueMemberS{Value: "video.media.ready"},
		"occurredAt": &types.AttributeValueMemberS{Value: eventstore.FormatTime(base)},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := (&eventstore.DynamoDB{Client: e.ddb, Table: e.events}).Put(ctx, last); err != nil {
		t.Fatal(err)
	}

	m := &ops.Migration{From: e.ddb, Table: old, To: &eventstore.DynamoDB{Client: e.ddb, Table: e.events}, Out: &e.out}
	sum, err := m.Run(ctx)
	if err != nil || sum.Read != 6 || sum.Copied != 5 || sum.AlreadyThere != 1 {
		t.Fatalf("first migration: %+v, %v\n%s", sum, err, e.out.String())
	}
	again, err := m.Run(ctx)
	if err != nil || again.Copied != 0 || again.AlreadyThere != 6 {
		t.Fatalf("second migration: %+v, %v", again, err)
	}
	r := &eventstore.Reader{Client: e.ddb, Table: e.events}
	page, err := r.StreamEvents(ctx, eventstore.StreamQuery{StreamID: "stream-old", Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, rec := range page.Records {
		ids = append(ids, rec.EventID)
	}
	if strings.Join(ids, ",") != "old-0,old-1,old-2,old-3,old-4" {
		t.Errorf("the stream's events after the migration: %v, want each once, in order", ids)
	}
}
