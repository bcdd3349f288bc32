package ddbstream_test

// The notifier's real path, against DynamoDB Local and goaws over the
// network: signed webhooks → webhook handler → events table → its stream,
// read with the DynamoDB Streams API → FromStreamsRecord → Handle → state
// table and SNS topics → an HTTP subscriber per topic.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/internal/emulator"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

const (
	secret    = "ZGVtby1zZWNyZXQ=" // base64 of "demo-secret"
	streamKey = "FP_TRgf4CswLZ9UcHH3yTxQ"
)

// --- counting clients: the AWS requests the notifier sends ---

type countingDynamoDB struct {
	*dynamodb.Client
	mu      sync.Mutex
	updates int
}

func (c *countingDynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.mu.Lock()
	c.updates++
	c.mu.Unlock()
	return c.Client.UpdateItem(ctx, in, opts...)
}

func (c *countingDynamoDB) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.updates
}

type countingSNS struct {
	*sns.Client
	mu       sync.Mutex
	publishs int
}

func (c *countingSNS) Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error) {
	c.mu.Lock()
	c.publishs++
	c.mu.Unlock()
	return c.Client.Publish(ctx, in, opts...)
}

func (c *countingSNS) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.publishs
}

// --- FastPix deliveries through the webhook handler ---

type delivery struct {
	id, typ, stream, target, at string
	test                        bool
}

func (d delivery) body() []byte {
	data := map[string]any{"streamId": d.stream, "streamKey": streamKey, "srtSecret": "srt-" + streamKey, "status": "idle", "test": d.test}
	if fastpix.IsSimulcast(d.typ) {
		data = map[string]any{"simulcastId": d.target, "livestreamId": d.stream, "streamKey": streamKey, "rtmpUrl": "rtmp://live.example/app"}
	}
	if strings.HasPrefix(d.typ, "video.media.") {
		data = map[string]any{"id": "media-" + d.id, "status": "ready"}
	}
	b, _ := json.Marshal(map[string]any{
		"type": d.typ, "id": d.id, "createdAt": d.at,
		"object":    map[string]any{"type": "live", "id": d.stream},
		"workspace": map[string]any{"id": "7c07598b-c27b-42e6-8b31-a334da54c387", "name": "Development"},
		"data":      data,
	})
	return b
}

type env struct {
	t       *testing.T
	webhook *httpapi.Webhook
	reader  *testenv.StreamReader
	state   *streamstate.Store
	ddb     *countingDynamoDB
	logs    *testenv.SyncBuffer
}

func newEnv(t *testing.T) *env {
	ddb := testenv.DynamoDB(t)
	eventsTable := testenv.CreateTable(t, ddb, "EventsTable")
	stateTable := testenv.CreateTable(t, ddb, "StreamStateTable")
	v, err := fastpix.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	e := &env{
		t: t,
		webhook: &httpapi.Webhook{
			Receiver: &ingest.Receiver{Keys: ingest.StaticKeys{V: v}, Store: &eventstore.DynamoDB{Client: ddb, Table: eventsTable}},
			Logger:   quiet,
		},
		reader: testenv.NewStreamReader(t, ddb, eventsTable),
		ddb:    &countingDynamoDB{Client: ddb},
		logs:   &testenv.SyncBuffer{},
	}
	e.state = &streamstate.Store{Client: e.ddb, Table: stateTable}
	return e
}

func (e *env) handler(pub alerts.PublishAPI, routes alerts.Routes) *ddbstream.Handler {
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	return &ddbstream.Handler{
		Processor: &notify.Notifier{State: e.state, Publisher: &alerts.SNSPublisher{Client: pub}, Routes: routes, Logger: log},
		Logger:    log,
	}
}

// deliver posts each delivery, signed, to the webhook handler and checks
// its answer.
func (e *env) deliver(wantStatus string, ds ...delivery) {
	e.t.Helper()
	for _, d := range ds {
		body := d.body()
		sig, err := fastpix.Sign(secret, body)
		if err != nil {
			e.t.Fatal(err)
		}
		req := events.APIGatewayV2HTTPRequest{Body: string(body), Headers: map[string]string{"fastpix-signature": sig}}
		req.RequestContext.HTTP.Method = http.MethodPost
		resp, err := e.webhook.Handle(context.Background(), req)
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"status":"`+wantStatus+`"`) {
			e.t.Fatalf("deliver %s %s: %d %s %v, want %s", d.typ, d.id, resp.StatusCode, resp.Body, err, wantStatus)
		}
	}
}

// read returns the stream records written since the last read, waiting for
// the record of the event untilEventID to appear.
func (e *env) read(t *testing.T, untilEventID string) events.DynamoDBEvent {
	t.Helper()
	recs := e.reader.ReadUntil(t, 30*time.Second, func(recs []streamstypes.Record) bool {
		for _, r := range recs {
			if v, ok := r.Dynamodb.Keys[eventstore.KeyEventID].(*streamstypes.AttributeValueMemberS); ok && v.Value == untilEventID {
				return true
			}
		}
		return false
	})
	return ddbstream.FromStreamsRecords(e.reader.ARN, recs)
}

func at(sec int) string {
	return time.Date(2024, 4, 2, 11, 17, sec, 0, time.UTC).Format(time.RFC3339Nano)
}

func failures(resp events.DynamoDBEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func sequenceNumbers(ev events.DynamoDBEvent) []string {
	var ids []string
	for _, r := range ev.Records {
		ids = append(ids, r.Change.SequenceNumber)
	}
	return ids
}

// TestNotifierEndToEnd drives the notifier's scenarios one after another on
// one set of tables and topics, each on its own stream.
func TestNotifierEndToEnd(t *testing.T) {
	e := newEnv(t)
	snsClient := testenv.SNS(t)
	names := map[string]string{"live": "StreamLiveTopic", "down": "StreamDisconnectedTopic", "simulcast": "SimulcastBroadcastingTopic"}
	arns := map[string]string{}
	subs := map[string]*testenv.Subscriber{}
	for key, name := range names {
		arns[key] = testenv.CreateTopic(t, snsClient, name)
		subs[key] = testenv.NewSubscriber(t)
		subs[key].Subscribe(t, snsClient, arns[key])
	}
	routes := alerts.Routes{
		fastpix.TypeLiveStreamActive:            arns["live"],
		fastpix.TypeLiveStreamDisconnected:      arns["down"],
		fastpix.TypeSimulcastBroadcasting:       arns["simulcast"],
		fastpix.TypeSimulcastTargetBroadcasting: arns["simulcast"],
	}
	pub := &countingSNS{Client: snsClient}
	h := e.handler(pub, routes)

	// run hands what the stream holds up to untilEventID to the handler,
	// checks nothing failed, and returns per topic what was published, and
	// the requests it took.
	run := func(t *testing.T, untilEventID string) (got map[string][]testenv.Notification, inserts, updates, publishes int) {
		t.Helper()
		ev := e.read(t, untilEventID)
		for _, r := range ev.Records {
			if r.EventName == "INSERT" {
				inserts++
			}
		}
		u0, p0 := e.ddb.count(), pub.count()
		resp, err := h.Handle(context.Background(), ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("Handle: %v, failures %v", err, failures(resp))
		}
		got = map[string][]testenv.Notification{}
		for key, s := range subs {
			got[key] = s.Take()
		}
		return got, inserts, e.ddb.count() - u0, pub.count() - p0
	}

	t.Run("each routed type reaches exactly its topic once, others none", func(t *testing.T) {
		const s = "a2ae2143-62a1-4eee-b888-4f1406148481"
		ds := []delivery{
			{id: "e1-created", typ: fastpix.TypeLiveStreamCreated, stream: s, at: at(1)},
			{id: "e1-connected", typ: fastpix.TypeLiveStreamConnected, stream: s, at: at(2)},
			{id: "e1-active", typ: fastpix.TypeLiveStreamActive, stream: s, at: at(3)},
			{id: "e1-recording", typ: fastpix.TypeLiveStreamRecording, stream: s, at: at(4)},
			{id: "e1-t1-starting", typ: "video.live_stream.simulcast_target.starting", stream: s, target: "target-one-0000-1111", at: at(5)},
			{id: "e1-t1-broadcasting", typ: fastpix.TypeSimulcastTargetBroadcasting, stream: s, target: "target-one-0000-1111", at: at(6)},
			{id: "e1-t2-broadcasting", typ: fastpix.TypeSimulcastBroadcasting, stream: s, target: "target-two-2222-3333", at: at(7)},
			{id: "e1-disconnected", typ: fastpix.TypeLiveStreamDisconnected, stream: s, at: at(8)},
			{id: "e1-idle", typ: fastpix.TypeLiveStreamIdle, stream: s, at: at(9)},
			{id: "e1-media", typ: "video.media.ready", at: at(10)},
		}
		e.deliver("accepted", ds...)
		got, inserts, updates, publishes := run(t, "e1-media")
		if inserts != len(ds) {
			t.Errorf("%d INSERT records, want %d", inserts, len(ds))
		}
		want := map[string][]string{
			"live":      {"e1-active"},
			"down":      {"e1-disconnected"},
			"simulcast": {"e1-t1-broadcasting", "e1-t2-broadcasting"},
		}
		for key, ids := range want {
			if len(got[key]) != len(ids) {
				t.Errorf("topic %s got %d messages, want %v", key, len(got[key]), ids)
				continue
			}
			for i, n := range got[key] {
				checkNotification(t, n, arns[key], ids[i], s)
			}
		}
		// Nine events are about the stream (the media event is not): one
		// UpdateItem each, the targets' included, since the stream's own
		// events created its targets map. One Publish per notable event.
		if updates != 9 || publishes != 4 {
			t.Errorf("requests: %d UpdateItem, %d Publish; want 9 and 4", updates, publishes)
		}
		t.Logf("requests for %d stored events (4 notable): %d UpdateItem, %d Publish", inserts, updates, publishes)
		st, err := e.state.Get(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != "idle" || st.LastEventID != "e1-idle" || len(st.SimulcastTargets) != 2 ||
			st.SimulcastTargets["target-one-0000-1111"].Status != "broadcasting" ||
			st.SimulcastTargets["target-two-2222-3333"].Status != "broadcasting" {
			t.Errorf("state = %+v", st)
		}
	})

	t.Run("a duplicate delivery publishes nothing more", func(t *testing.T) {
		const s = "3dda81f7-c3c8-4090-b19c-ddc8bc885a8d"
		active := delivery{id: "e2-active", typ: fastpix.TypeLiveStreamActive, stream: s, at: at(20)}
		e.deliver("accepted", active)
		got, _, _, _ := run(t, "e2-active")
		if len(got["live"]) != 1 {
			t.Fatalf("first delivery: %d live messages, want 1", len(got["live"]))
		}
		e.deliver("duplicate", active, active)
		// A later event marks how far the stream has been read.
		e.deliver("accepted", delivery{id: "e2-updated", typ: fastpix.TypeLiveStreamUpdated, stream: s, at: at(21)})
		got, inserts, updates, publishes := run(t, "e2-updated")
		if inserts != 1 || updates != 1 || publishes != 0 {
			t.Errorf("after duplicates: %d INSERTs, %d UpdateItem, %d Publish; want 1, 1, 0", inserts, updates, publishes)
		}
		for key, ns := range got {
			if len(ns) != 0 {
				t.Errorf("topic %s got %d messages after duplicates", key, len(ns))
			}
		}
	})

	t.Run("active after a newer disconnected is suppressed", func(t *testing.T) {
		const s = "stale-stream-4eee-b888-000000000003"
		e.deliver("accepted",
			delivery{id: "e3-disconnected", typ: fastpix.TypeLiveStreamDisconnected, stream: s, at: at(31)},
			delivery{id: "e3-active", typ: fastpix.TypeLiveStreamActive, stream: s, at: at(30)},
			delivery{id: "e3-t-old", typ: fastpix.TypeSimulcastTargetBroadcasting, stream: s, target: "t-9", at: at(32)},
			delivery{id: "e3-t-older", typ: fastpix.TypeSimulcastBroadcasting, stream: s, target: "t-9", at: at(29)},
		)
		got, _, updates, publishes := run(t, "e3-t-older")
		if len(got["live"]) != 0 || len(got["down"]) != 1 || len(got["simulcast"]) != 1 {
			t.Errorf("live %d, down %d, simulcast %d messages; want 0, 1, 1", len(got["live"]), len(got["down"]), len(got["simulcast"]))
		}
		if updates != 4 || publishes != 2 {
			t.Errorf("requests: %d UpdateItem, %d Publish; want 4 and 2", updates, publishes)
		}
		st, err := e.state.Get(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != "disconnected" || st.LastEventID != "e3-disconnected" || st.SimulcastTargets["t-9"].LastEventID != "e3-t-old" {
			t.Errorf("state = %+v, want disconnected by e3-disconnected, target by e3-t-old", st)
		}
		logs := e.logs.String()
		for _, id := range []string{"e3-active", "e3-t-older"} {
			if !strings.Contains(logs, `"msg":"stale alert suppressed"`) || !strings.Contains(logs, `"eventId":"`+id+`"`) {
				t.Errorf("no suppression logged for %s", id)
			}
		}
		if !strings.Contains(logs, `"suppressed":2`) {
			t.Errorf("batch summary does not count 2 suppressed:\n%s", logs)
		}
	})

	t.Run("a test stream is published with test=true", func(t *testing.T) {
		const s = "test-stream-0000-0000-000000000004"
		e.deliver("accepted", delivery{id: "e4-active", typ: fastpix.TypeLiveStreamActive, stream: s, at: at(40), test: true})
		got, _, _, _ := run(t, "e4-active")
		if len(got["live"]) != 1 {
			t.Fatalf("%d live messages, want 1", len(got["live"]))
		}
		if a := got["live"][0].MessageAttributes["test"]; a.Value != "true" || a.Type != "String" {
			t.Errorf("test attribute = %+v", a)
		}
		if !strings.HasPrefix(got["live"][0].Subject, "(TEST) ") {
			t.Errorf("subject = %q", got["live"][0].Subject)
		}
	})
}

// checkNotification checks one message as the subscriber got it. goaws
// passes a MessageStructure=json document whole to HTTP subscribers (real
// SNS would send the "default" rendering), so all renderings are visible.
func checkNotification(t *testing.T, n testenv.Notification, topic, eventID, stream string) {
	t.Helper()
	if n.TopicArn != topic {
		t.Errorf("%s: topic %s, want %s", eventID, n.TopicArn, topic)
	}
	var renderings map[string]string
	if err := json.Unmarshal([]byte(n.Message), &renderings); err != nil {
		t.Fatalf("%s: message is not the renderings document: %v: %s", eventID, err, n.Message)
	}
	var def struct {
		EventID, Type, StreamID string
	}
	if err := json.Unmarshal([]byte(renderings["default"]), &def); err != nil || def.EventID != eventID || def.StreamID != stream {
		t.Errorf("%s: default rendering %q (%v)", eventID, renderings["default"], err)
	}
	if renderings["email"] == "" || !strings.Contains(renderings["sms"], alerts.ShortID(stream)) {
		t.Errorf("%s: email %q, sms %q", eventID, renderings["email"], renderings["sms"])
	}
	if n.Subject == "" || len(n.Subject) >= 100 {
		t.Errorf("%s: subject %q", eventID, n.Subject)
	}
	for name, want := range map[string]string{"eventType": def.Type, "streamId": stream, "workspaceId": "7c07598b-c27b-42e6-8b31-a334da54c387", "test": "false"} {
		if a := n.MessageAttributes[name]; a.Value != want || a.Type != "String" {
			t.Errorf("%s: attribute %s = %+v, want String %q", eventID, name, a, want)
		}
	}
	// The body as it arrived, every field of it.
	if len(n.Raw) == 0 || bytes.Contains(n.Raw, []byte(streamKey)) {
		t.Errorf("%s: a credential reached SNS, or no body to search: %s", eventID, n.Raw)
	}
}

// TestNotifierSNSOutage stops a goaws of its own under the notifier: the
// record whose publish fails is reported with every later one, and the retry
// Lambda would make, once SNS is back, publishes each exactly once.
func TestNotifierSNSOutage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const topicName = "StreamAlertsOutage"
	start := func(port int) *emulator.Process {
		p, err := emulator.StartSNS(ctx, emulator.SNSOptions{Port: port, Topics: []string{topicName}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
		return p
	}
	goaws := start(0)
	client := sns.NewFromConfig(testenv.AWSConfig(), func(o *sns.Options) {
		o.BaseEndpoint = aws.String(goaws.Endpoint)
		o.RetryMaxAttempts = 1 // a refused connection fails at once
	})
	topic := emulator.TopicARN(topicName)
	sub := testenv.NewSubscriber(t)
	sub.Subscribe(t, client, topic)
	pub := &countingSNS{Client: client}
	h := e.handler(pub, alerts.Routes{fastpix.TypeLiveStreamActive: topic, fastpix.TypeLiveStreamDisconnected: topic})

	const s = "outage-stream-0000-0000-000000000005"
	e.deliver("accepted",
		delivery{id: "e5-created", typ: fastpix.TypeLiveStreamCreated, stream: s, at: at(50)},
		delivery{id: "e5-active", typ: fastpix.TypeLiveStreamActive, stream: s, at: at(51)},
		delivery{id: "e5-disconnected", typ: fastpix.TypeLiveStreamDisconnected, stream: s, at: at(52)},
	)
	batch := e.read(t, "e5-disconnected")
	if len(batch.Records) != 3 {
		t.Fatalf("%d stream records, want 3", len(batch.Records))
	}

	goaws.Stop()
	resp, err := h.Handle(ctx, batch)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	seq := sequenceNumbers(batch)
	if got := failures(resp); strings.Join(got, ",") != strings.Join(seq[1:], ",") {
		t.Fatalf("failures %v, want the active record and the one after it %v", got, seq[1:])
	}
	if pub.count() != 1 {
		t.Errorf("%d Publish requests during the outage, want 1 (processing stops at the failure)", pub.count())
	}
	st, err := e.state.Get(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastEventID != "e5-active" {
		t.Errorf("state after the failed publish = %+v, want it at e5-active", st)
	}

	// SNS is back on the same address; goaws keeps no subscriptions.
	goaws = start(goaws.Port)
	sub.Subscribe(t, client, topic)
	sub.Take()
	retry := events.DynamoDBEvent{Records: batch.Records[1:]}
	resp, err = h.Handle(ctx, retry)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %v, failures %v", err, failures(resp))
	}
	got := sub.Take()
	var ids []string
	for _, n := range got {
		var r map[string]string
		_ = json.Unmarshal([]byte(n.Message), &r)
		var def struct{ EventID string }
		_ = json.Unmarshal([]byte(r["default"]), &def)
		ids = append(ids, def.EventID)
	}
	if strings.Join(ids, ",") != "e5-active,e5-disconnected" {
		t.Errorf("after the retry the subscriber got %v, want e5-active then e5-disconnected once each", ids)
	}
	if pub.count() != 3 {
		t.Errorf("%d Publish requests in all, want 3", pub.count())
	}
	st, err = e.state.Get(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "disconnected" {
		t.Errorf("state after the retry = %+v", st)
	}
}

// recordingPublisher keeps the event ids it published (the handler
// publishes for several streams at once).
type recordingPublisher struct {
	mu  sync.Mutex
	ids []string
}

func (p *recordingPublisher) Publish(_ context.Context, _ string, m alerts.Message) error {
	var d struct{ EventID string }
	_ = json.Unmarshal([]byte(m.Default), &d)
	p.mu.Lock()
	p.ids = append(p.ids, d.EventID)
	p.mu.Unlock()
	return nil
}

// A record whose state update DynamoDB refuses as invalid (here an item
// over 400 KB, DynamoDB Local's own ValidationException) is skipped: the
// batch is not failed, and the other streams' alerts after it are sent.
func TestPoisonRecordDoesNotHoldBackTheBatch(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	pub := &recordingPublisher{}
	h := &ddbstream.Handler{
		Processor: &notify.Notifier{
			State:     &streamstate.Store{Client: ddb, Table: testenv.CreateTable(t, ddb, "StreamStateTable")},
			Publisher: pub, Routes: alerts.Routes{"video.live_stream.active": "arn:aws:sns:us-east-1:1:Live"},
			Logger: slog.New(slog.DiscardHandler),
		},
		Logger: slog.New(slog.DiscardHandler),
	}
	record := func(seq, id, stream string) events.DynamoDBEventRecord {
		r := eventstore.Record{EventID: id, Type: "video.live_stream.active", StreamID: stream,
			OccurredAt: "2024-04-02T11:17:52.000000000Z", ReceivedAt: "2024-04-02T11:17:53.000000000Z",
			Payload: `{"id":"` + id + `","type":"video.live_stream.active"}`}
		image := map[string]events.DynamoDBAttributeValue{}
		for k, v := range r.Item() {
			image[k] = events.NewStringAttribute(v.(*types.AttributeValueMemberS).Value)
		}
		return events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: seq, NewImage: image}}
	}
	poison := record("2", "poison", strings.Repeat("p", 2048))
	// A stream id at DynamoDB's key limit and an event type no item can
	// hold: the update is refused as invalid, every time.
	poison.Change.NewImage[eventstore.AttrType] = events.NewStringAttribute("video.live_stream.active" + strings.Repeat("x", 410*1024))
	resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record("1", "a", "s1"), poison, record("3", "c", "s3"),
	}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v, err %v; want no failure reported", resp, err)
	}
	if slices.Sort(pub.ids); strings.Join(pub.ids, ",") != "a,c" {
		t.Errorf("published %v, want a and c", pub.ids)
	}
}
