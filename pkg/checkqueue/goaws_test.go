package checkqueue_test

import (
	"context"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
)

// goaws, the local stack's SQS, honours a message's own DelaySeconds on the
// query protocol: a check sent with a delay stays out of sight until it is
// due, while one sent without is there at once. The local stack relies on
// it to hold disconnects as SQS does.
func TestGoawsHonoursDelaySeconds(t *testing.T) {
	ctx := context.Background()
	q := &ops.QueryQueue{Endpoint: testenv.SNSEndpoint(t)}
	u, err := q.CreateQueue(ctx, testenv.UniqueName(t, "held"))
	if err != nil {
		t.Fatal(err)
	}
	q.URL = u
	enq := &checkqueue.SQS{Client: q, URL: u}

	const delay = 3 * time.Second
	delayed, now := check, check
	delayed.EventID, now.EventID = "delayed", "now"
	sent := time.Now()
	if err := enq.Enqueue(ctx, delayed, delay); err != nil {
		t.Fatal(err)
	}
	if err := enq.Enqueue(ctx, now, 0); err != nil {
		t.Fatal(err)
	}
	first, err := q.Receive(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 {
		t.Fatalf("at once: %d messages, want only the undelayed one: %+v", len(first), first)
	}
	if c, err := checkqueue.Decode(first[0].Body); err != nil || c.EventID != "now" {
		t.Fatalf("at once: %+v, %v; want the undelayed check", c, err)
	}
	if err := q.Delete(ctx, first[0]); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(30 * time.Second)
	var got []ops.Message
	for time.Now().Before(deadline) {
		if got, err = q.Receive(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	waited := time.Since(sent)
	if len(got) != 1 {
		t.Fatalf("after %s: %d messages, want the delayed check", waited, len(got))
	}
	if waited < delay {
		t.Errorf("the delayed check came after %s, before its %s delay", waited, delay)
	}
	c, err := checkqueue.Decode(got[0].Body)
	if err != nil || c.EventID != "delayed" || c.StreamID != check.StreamID || !c.OccurredAt.Equal(check.OccurredAt) || c.WorkspaceName != "Development" || !c.Test {
		t.Errorf("delayed check = %+v, %v", c, err)
	}
	if err := q.Delete(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
}
