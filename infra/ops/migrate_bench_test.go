package ops_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// BenchmarkMigrateEvents copies b.N old events, one part of the table
// at a time and four, of 1 KB (20 streams) into
// an empty log: the time per event, against DynamoDB Local, is one Scan
// share and one conditional PutItem; events/s says how long a table takes.
// With put+5ms each write is held 5 ms first, the round trip to DynamoDB
// from an operator's machine that DynamoDB Local on this one does not have:
// there the parts copied at once (-segments) pay off.
func BenchmarkMigrateEvents(b *testing.B) {
	for _, latency := range []time.Duration{0, 5 * time.Millisecond} {
		for _, segments := range []int{1, 4} {
			b.Run(fmt.Sprintf("put+%v/segments=%d", latency, segments), func(b *testing.B) { benchmarkMigrateEvents(b, segments, latency) })
		}
	}
}

// slowWriter holds each write latency before it is sent: DynamoDB Local
// answers in a millisecond on this machine, DynamoDB from an operator's
// machine in several.
type slowWriter struct {
	eventstore.Writer
	latency time.Duration
}

func (w slowWriter) Put(ctx context.Context, r eventstore.Record) error {
	time.Sleep(w.latency)
	return w.Writer.Put(ctx, r)
}

func benchmarkMigrateEvents(b *testing.B, segments int, latency time.Duration) {
	mg := newMigration(b)
	mg.m.Segments = segments
	mg.m.To = slowWriter{mg.m.To, latency}
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	ctx := context.Background()
	items := make([]types.WriteRequest, 0, 25)
	flush := func() {
		if len(items) == 0 {
			return
		}
		if _, err := mg.ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{mg.old: items}}); err != nil {
			b.Fatal(err)
		}
		items = items[:0]
	}
	for i := range b.N {
		e := testenv.FastPixEvent{ID: fmt.Sprintf("ev-%07d", i), Type: "video.live_stream.updated", StreamID: fmt.Sprintf("stream-%02d", i%20),
			Status: "active", At: base.Add(time.Duration(i) * time.Second)}
		it := testenv.OldItem(b, e.Body(), e.At)
		it["payload"] = &types.AttributeValueMemberS{Value: fmt.Sprintf(`{"id":%q,"pad":%q}`, e.ID, make([]byte, 900))}
		items = append(items, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		if len(items) == 25 {
			flush()
		}
	}
	flush()
	b.ResetTimer()
	sum, err := mg.m.Run(ctx)
	if err != nil || sum.Copied != b.N {
		b.Fatalf("%+v %v", sum, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
