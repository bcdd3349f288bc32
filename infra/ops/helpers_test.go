package ops_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// received counts the notifications the subscriber got from topic, or from
// every topic when topic is "".
func received(s *testenv.Subscriber, topic string) int {
	n := 0
	for _, m := range s.Notifications() {
		if topic == "" || m.TopicArn == topic {
			n++
		}
	}
	return n
}

// env is one test's events and state tables, two topics with a subscriber,
// and the notifier over them.
type env struct {
	t             *testing.T
	ddb           *dynamodb.Client
	events, state string
	live, down    string
	inbox         *testenv.Subscriber
	store         *streamstate.Store
	routes        alerts.Routes
	publisher     alerts.Publisher
	notifier      *notify.Notifier
	eventSource   *eventstore.RangeReader
	base          time.Time
	out           bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, ddb: testenv.DynamoDB(t), inbox: testenv.NewSubscriber(t), base: time.Date(2024, 4, 2, 11, 0, 0, 0, time.UTC)}
	e.events = testenv.CreateTable(t, e.ddb, "EventLogTable")
	e.state = testenv.CreateTable(t, e.ddb, "StreamStateTable")
	snsClient := testenv.SNS(t)
	e.live = testenv.CreateTopic(t, snsClient, "live")
	e.down = testenv.CreateTopic(t, snsClient, "down")
	for _, topic := range []string{e.live, e.down} {
		e.inbox.Subscribe(t, snsClient, topic)
	}
	e.routes = alerts.Routes{"video.live_stream.active": e.live, "video.live_stream.disconnected": e.down}
	e.store = &streamstate.Store{Client: e.ddb, Table: e.state}
	e.publisher = &alerts.SNSPublisher{Client: snsClient}
	// The notifier as the function is wired (grace 0: no check queue here).
	e.notifier = &notify.Notifier{
		Log: eventstore.NewLog(e.ddb, e.events), State: e.store, Publisher: e.publisher, Routes: e.routes,
		Rules: alertrules.Settings{Grace: 0, FlapThreshold: 3, FlapWindow: 10 * time.Minute}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	e.eventSource = &eventstore.RangeReader{Client: e.ddb, Table: e.events}
	return e
}

// put stores an event as the webhook would, minute minutes after base.
func (e *env) put(id, typ, stream string, minute int) eventstore.Record {
	e.t.Helper()
	at := e.base.Add(time.Duration(minute) * time.Minute)
	r := eventstore.Record{
		EventID: id, Type: typ, StreamID: stream, WorkspaceID: "ws-1", WorkspaceName: "Dev",
		OccurredAt: eventstore.FormatTime(at), ReceivedAt: eventstore.FormatTime(time.Now()),
		Payload: `{"id":"` + id + `","type":"` + typ + `","object":{"type":"live_stream","id":"` + stream + `"},"data":{"status":"idle"}}`,
	}
	if err := (&eventstore.DynamoDB{Client: e.ddb, Table: e.events}).Put(context.Background(), r); err != nil {
		e.t.Fatalf("put %s: %v", id, err)
	}
	return r
}

// waitFor polls until cond holds: goaws delivers to subscribers on its own
// goroutine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
