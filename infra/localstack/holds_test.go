package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/awslocal"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// The rules with a 2 s grace against DynamoDB Local and goaws, with real
// delayed SQS messages handed to the notifier's check as Lambda's SQS event
// source would: a brief drop sends nothing; a drop left alone is alerted
// once, after the grace; the reconnection after it is one "back after"
// alert with the downtime; three quick drops are one unstable alert.
func TestHeldDisconnectsWithRealDelays(t *testing.T) {
	const grace = 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ddb := testenv.DynamoDB(t)
	store := &streamstate.Store{Client: ddb, Table: testenv.CreateTable(t, ddb, "StreamStateTable")}
	events := testenv.CreateTable(t, ddb, "EventLogTable")
	snsc := testenv.SNS(t)
	live := testenv.CreateTopic(t, snsc, "live")
	down := testenv.CreateTopic(t, snsc, "down")
	sub := testenv.NewSubscriber(t)
	sub.Subscribe(t, snsc, live)
	sub.Subscribe(t, snsc, down)
	q := &ops.QueryQueue{Endpoint: testenv.SNSEndpoint(t)}
	u, err := q.CreateQueue(ctx, testenv.UniqueName(t, "checks"))
	if err != nil {
		t.Fatal(err)
	}
	q.URL = u

	logs := &testenv.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	n := &notify.Notifier{
		Log:       eventstore.NewLog(ddb, events),
		State:     store,
		Publisher: &alerts.SNSPublisher{Client: snsc},
		Routes:    alerts.Routes{"video.live_stream.active": live, "video.live_stream.disconnected": down},
		Rules:     alertrules.Settings{Grace: grace, FlapThreshold: 3, FlapWindow: 10 * time.Minute},
		Queue:     &checkqueue.SQS{Client: q, URL: u},
		Logger:    log,
	}
	writer := &eventstore.DynamoDB{Client: ddb, Table: events}
	src := &awslocal.SQSSource{Queue: q, Handler: (&checkqueue.Handler{Checker: n, Logger: log}).Handle, Interval: 50 * time.Millisecond, Logger: log}
	go src.Run(ctx)

	const stream = "a2ae2143-62a1-4eee-b888-4f1406148481"
	// process stores an event that happens at occurred (the test waits
	// until then: FastPix sends an event when it happens) as the webhook
	// does, and rings its stream's bell, as its stream record does.
	process := func(id, action string, occurred time.Time) {
		t.Helper()
		time.Sleep(time.Until(occurred))
		typ := "video.live_stream." + action
		payload := fmt.Sprintf(`{"id":%q,"type":%q,"workspace":{"name":"Development"},"data":{"streamId":%q},"createdAt":%q}`,
			id, typ, stream, occurred.Format(time.RFC3339Nano))
		ev, err := fastpix.Parse([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := eventstore.NewRecord(ev, []byte(payload), time.Now(), 0, 0)
		if err := writer.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := n.ApplyStream(ctx, stream, []string{id}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	// sms waits until n alerts have arrived in all, and returns them.
	var got []string
	sms := func(want int) []string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for len(got) < want && time.Now().Before(deadline) {
			for _, m := range sub.Take() {
				var doc map[string]string
				if err := json.Unmarshal([]byte(m.Message), &doc); err != nil {
					t.Fatalf("not a message structure: %s", m.Message)
				}
				got = append(got, doc["sms"])
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(got) != want {
			t.Fatalf("alerts: %q, want %d\n%s", got, want, logs.String())
		}
		return got
	}
	t0 := time.Now().UTC()
	process("a0", "active", t0)
	if s := sms(1)[0]; !strings.HasPrefix(s, "LIVE: stream a2ae..8481 (Development) active") {
		t.Errorf("went live: %q", s)
	}

	// A brief drop: back 300 ms after the disconnect.
	d1 := time.Now().UTC()
	process("d1", "disconnected", d1)
	process("a1", "active", d1.Add(300*time.Millisecond))

	// A drop left alone: alerted after the grace, once.
	d2 := time.Now().UTC()
	process("d2", "disconnected", d2)
	s := sms(2)[1]
	if waited := time.Since(d2); waited < grace {
		t.Errorf("the disconnect was alerted %s after it happened, before its %s grace", waited, grace)
	}
	if !strings.HasPrefix(s, "DISCONNECTED: stream a2ae..8481 (Development) disconnected") {
		t.Errorf("disconnect: %q", s)
	}

	// Back 5 s after the disconnect (by event time).
	process("a2", "active", d2.Add(5*time.Second))
	if s := sms(3)[2]; !strings.HasPrefix(s, "LIVE again: stream a2ae..8481 back after 5s (Development)") {
		t.Errorf("recovery: %q", s)
	}

	// Three quick drops (the brief drop above was the first): one unstable
	// alert at the third.
	for i := 3; i <= 4; i++ {
		d := d2.Add(5*time.Second + time.Duration(i-2)*time.Second)
		process(fmt.Sprintf("d%d", i), "disconnected", d)
		process(fmt.Sprintf("a%d", i), "active", d.Add(200*time.Millisecond))
	}
	if s := sms(4)[3]; !strings.HasPrefix(s, "UNSTABLE: stream a2ae..8481 dropped 3 times in 10 min (Development)") {
		t.Errorf("unstable: %q", s)
	}
	// Nothing else: the checks of the brief drops find them back, and a
	// check delivered again sends nothing.
	time.Sleep(3 * grace)
	if err := n.Check(ctx, checkqueue.Check{StreamID: stream, EventID: "d2"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if extra := sub.Take(); len(extra) != 0 {
		t.Errorf("%d alerts more than the model's: %+v", len(extra), extra)
	}
	st, err := store.Get(ctx, stream)
	if err != nil || st.Alerting == nil || len(st.Alerting.Drops) != 3 {
		t.Errorf("state's alerting = %+v, %v; want 3 brief drops", st.Alerting, err)
	}
}
