package proof

// Shared helpers of the notifier proofs (storm, SNS failure, leak check):
// a generator of stream lifecycles, the whole path wired as the functions
// wire it (webhook → events table → its stream → notifier → state table and
// SNS topics → HTTP subscribers), request counters, and a model of what the
// notifier must do that is computed from the generated events alone.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

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

// stormSecret signs the notifier proofs' deliveries; the leak check looks
// for it (and for the key it decodes to) everywhere.
var (
	stormSecretKey = "storm-signing-secret-0002"
	stormSecret    = base64.StdEncoding.EncodeToString([]byte(stormSecretKey))
)

// The alert classes the proofs route, by topic.
const (
	stormTopicLive      = "live"
	stormTopicDown      = "down"
	stormTopicSimulcast = "simulcast"
)

// stormRouteTypes is the proofs' routing, as ALERT_ROUTES sets it: type →
// topic key.
var stormRouteTypes = map[string]string{
	"video.live_stream.active":                        stormTopicLive,
	"video.live_stream.disconnected":                  stormTopicDown,
	"video.live_stream.simulcast.broadcasting":        stormTopicSimulcast,
	"video.live_stream.simulcast_target.broadcasting": stormTopicSimulcast,
}

// stormEvent is one generated FastPix event, and what the test knows about
// it without asking the code under test.
type stormEvent struct {
	id, typ  string
	stream   string
	target   string // simulcast target id, "" for the stream's own events
	at       time.Time
	status   string // the status the event gives its stream or target
	notable  bool
	body     []byte
	secrets  []string // credential values inside body
	topicKey string
	// info: about the stream, but not a status transition (recording,
	// updated): it moves no status and no transition makes it stale.
	info bool
	// noTarget: a simulcast event that names no target.
	noTarget bool
	// createdAt, when set, is the createdAt sent instead of at (a sender's
	// clock far ahead).
	createdAt string
	// eff is the time the notifier must order the event by: at, or the
	// receive time when createdAt is beyond the tolerance ahead of it
	// (stormEffective sets it from the events table).
	eff string
}

// stormRanks is the lifecycle's order, from FASTPIX.md, that breaks ties of
// equal times: a disconnect comes after the active it ends.
var stormRanks = map[string]int{
	"video.live_stream.created": 1, "video.live_stream.connected": 4, "video.live_stream.active": 5,
	"video.live_stream.disconnected": 6, "video.live_stream.idle": 7, "video.live_stream.deleted": 9,
	"simulcast.created": 1, "simulcast.starting": 2, "simulcast.broadcasting": 3, "simulcast.deleted": 9,
}

func (e *stormEvent) rank() int {
	if e.target != "" || e.noTarget {
		return stormRanks["simulcast."+e.typ[strings.LastIndexByte(e.typ, '.')+1:]]
	}
	return stormRanks[e.typ]
}

const stormLayout = "2006-01-02T15:04:05.000000000Z" // the tables' time format, by their schema

func (e *stormEvent) effective() string {
	if e.eff != "" {
		return e.eff
	}
	return e.at.UTC().Format(stormLayout)
}

// newerThan is the "only forward" rule of the state, written here from the
// specification (later time wins, equal times are ordered by the
// lifecycle, then by event id), not taken from the code.
func (e *stormEvent) newerThan(o *stormEvent) bool {
	if a, b := e.effective(), o.effective(); a != b {
		return a > b
	}
	if e.rank() != o.rank() {
		return e.rank() > o.rank()
	}
	return e.id > o.id
}

// stateKey is what the event moves: the stream's status, one of its
// targets, or the stream's detail (events that are not transitions).
func (e *stormEvent) stateKey() string {
	if e.info {
		return e.stream + "|#detail"
	}
	return e.stream + "|" + e.target
}

// stormEffective sets each event's effective time from what the webhook
// stored: createdAt, unless it is more than the notifier's tolerance (the
// default, 60 s) ahead of the receive time. It returns the skewed events.
func stormEffective(t *testing.T, byID map[string]*stormEvent, items []map[string]types.AttributeValue) []string {
	t.Helper()
	var skewed []string
	for _, it := range items {
		rec, err := eventstore.RecordFromItem(it)
		if err != nil {
			t.Fatal(err)
		}
		e := byID[rec.EventID]
		if e == nil {
			continue
		}
		occurred, err1 := time.Parse(time.RFC3339Nano, rec.OccurredAt)
		received, err2 := time.Parse(time.RFC3339Nano, rec.ReceivedAt)
		if err1 != nil || err2 != nil {
			t.Fatalf("stored times of %s: %q %q", rec.EventID, rec.OccurredAt, rec.ReceivedAt)
		}
		e.eff = rec.OccurredAt
		if occurred.Sub(received) > 60*time.Second {
			e.eff = rec.ReceivedAt
			skewed = append(skewed, e.id)
		}
	}
	return skewed
}

func stormUUID(rng *rand.Rand) string {
	b := make([]byte, 16)
	rng.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func stormCredential(rng *rand.Rand, kind string) string {
	return fmt.Sprintf("%s%016x", kind, rng.Uint64())
}

// stormGenerate makes n streams of perStream events each: a lifecycle
// (created, connected, active, disconnected, reconnects, idle) and 0–2
// simulcast targets (starting or created, then broadcasting, in either
// spelling); about half of the streams with targets existed before
// (no created event) and a target's event is their first. Times carry nanoseconds of varying precision, streams overlap
// in time, and about one stream in five has two events at the very same
// instant (ordered by id). Every event carries credentials where FastPix
// puts them.
func stormGenerate(rng *rand.Rand, streams, perStream int) []*stormEvent {
	t0 := time.Date(2024, 4, 2, 11, 17, 52, 722812836, time.UTC)
	cycle := []string{"created", "connected", "active", "disconnected", "connected", "active", "disconnected", "connected", "active", "disconnected"}
	var all []*stormEvent
	for s := range streams {
		stream := stormUUID(rng)
		creds := stormCreds{
			key: stormCredential(rng, "skStorm"), srt: stormCredential(rng, "srtStorm"),
			pb: stormCredential(rng, "pbStorm"), simResp: stormCredential(rng, "simRespStorm"),
		}
		base := t0.Add(time.Duration(s) * 7 * time.Second)
		jitter := func() time.Duration {
			// 0, 3, 6 or 9 fractional digits.
			switch rng.Intn(4) {
			case 0:
				return 0
			case 1:
				return time.Duration(rng.Intn(1000)) * time.Millisecond
			case 2:
				return time.Duration(rng.Intn(1000000)) * time.Microsecond
			}
			return time.Duration(rng.Int63n(int64(time.Second)))
		}
		nTargets := rng.Intn(3)
		nLife := perStream - 2*nTargets
		// A stream created before the storm: its first event in the storm
		// is a simulcast target's, so its state item starts from a target.
		existing := nTargets > 0 && rng.Intn(2) == 0
		skip := 0
		if existing {
			skip = 1
		}
		var evs []*stormEvent
		for k := range nLife {
			action := cycle[(k+skip)%len(cycle)]
			if k == nLife-1 {
				action = "idle"
			}
			at := base.Add(time.Duration(k)*30*time.Second + jitter())
			evs = append(evs, &stormEvent{typ: "video.live_stream." + action, stream: stream, at: at, status: action})
		}
		if created := evs[0]; created.typ == "video.live_stream.created" {
			created.status = "idle" // not a lifecycle action: the payload's status counts
		}
		if rng.Intn(5) == 0 && nLife >= 2 {
			evs[nLife-1].at = evs[nLife-2].at // a tie, broken by event id
		}
		span := time.Duration(nLife-3) * 30 * time.Second
		for range nTargets {
			target := stormUUID(rng)
			prefix := "video.live_stream.simulcast."
			if rng.Intn(2) == 0 {
				prefix = "video.live_stream.simulcast_target."
			}
			first := "starting"
			if rng.Intn(2) == 0 {
				first = "created"
			}
			simKey := stormCredential(rng, "simStorm")
			at := base.Add(60*time.Second + time.Duration(rng.Int63n(int64(span/2))))
			if existing {
				at = base.Add(-time.Duration(120+rng.Intn(120)) * time.Second)
			}
			for _, action := range []string{first, "broadcasting"} {
				evs = append(evs, &stormEvent{typ: prefix + action, stream: stream, target: target, at: at, status: action, secrets: []string{simKey}})
				at = at.Add(time.Second + time.Duration(rng.Int63n(int64(span/2))))
			}
		}
		for _, e := range evs {
			e.id = stormUUID(rng)
			e.topicKey, e.notable = stormRouteTypes[e.typ]
			if e.target == "" {
				e.secrets = []string{creds.key, creds.srt, creds.pb, creds.simResp}
			}
			e.body = stormBody(e, creds)
		}
		all = append(all, evs...)
	}
	return all
}

// stormCreds are a stream's credentials: its stream key, SRT secret, SRT
// playback secret, and the stream key of the simulcast target listed in
// its simulcastResponses.
type stormCreds struct{ key, srt, pb, simResp string }

// stormBody is the event as FastPix sends it (FastPix's field order).
func stormBody(e *stormEvent, c stormCreds) []byte {
	var data any
	if e.noTarget {
		data = map[string]any{"livestreamId": e.stream, "rtmpUrl": "rtmps://live.example.invalid:443/app", "isEnabled": true}
	} else if e.target != "" {
		data = map[string]any{
			"simulcastId": e.target, "livestreamId": e.stream, "rtmpUrl": "rtmps://live.example.invalid:443/app",
			"streamKey": e.secrets[0], "isEnabled": true, "metadata": map[string]any{"proof": "storm"},
		}
	} else {
		data = map[string]any{
			"test": false, "streamId": e.stream, "status": e.status, "streamKey": c.key, "srtSecret": c.srt,
			"srtPlaybackResponse": map[string]any{"srtPlaybackStreamId": "pb-" + e.stream[:8], "srtPlaybackSecret": c.pb},
			"simulcastResponses":  []any{map[string]any{"simulcastId": "sim-" + e.stream[:8], "url": "rtmps://x.invalid/live", "streamKey": c.simResp, "isEnabled": true}},
			"reconnectWindow":     60, "latencyMode": "standard",
		}
	}
	d, _ := json.Marshal(data)
	createdAt := e.createdAt
	if createdAt == "" {
		createdAt = e.at.Format(time.RFC3339Nano)
	}
	return fmt.Appendf(nil, `{"type":%q,"request_id":null,"object":{"type":"live","id":%q},"id":%q,"workspace":{"name":"Storm","id":"ws-storm"},"data":%s,"createdAt":%q,"attempts":[],"accessor":null}`,
		e.typ, e.stream, e.id, d, createdAt)
}

// stormCounter is an SDK HTTP client that counts every request that leaves
// for AWS, retries included, by operation: DynamoDB names it in
// X-Amz-Target, SNS (query protocol) in the form's Action.
type stormCounter struct {
	inner aws.HTTPClient
	mu    sync.Mutex
	byOp  map[string]int
}

func newStormCounter() *stormCounter {
	return &stormCounter{inner: awshttp.NewBuildableClient(), byOp: map[string]int{}}
}

func (c *stormCounter) Do(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.IndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	if op == "" && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil {
			op = form.Get("Action")
		}
	}
	c.mu.Lock()
	c.byOp[op]++
	c.mu.Unlock()
	return c.inner.Do(r)
}

func (c *stormCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.byOp))
	for k, v := range c.byOp {
		out[k] = v
	}
	return out
}

func (c *stormCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byOp = map[string]int{}
}

// stormRig is the system as the functions wire it, on fresh tables, with a
// request counter on each AWS client and every log captured.
type stormRig struct {
	ddb                  *dynamodb.Client // the test's own, uncounted
	eventsTable, stTable string
	webhookCount         *stormCounter
	stateCount           *stormCounter
	snsCount             *stormCounter
	webhook              *httpapi.Webhook
	handler              *ddbstream.Handler
	state                *streamstate.Store // uncounted, for the test's reads
	reader               *testenv.StreamReader
	subs                 map[string]*testenv.Subscriber // by topic key
	topics               map[string]string              // topic key → ARN
	webhookLogs          *testenv.SyncBuffer
	notifierLogs         *testenv.SyncBuffer
}

// newStormRig wires the path. snsEndpoint is the goaws to publish to;
// topicARNs the three topics (created by the caller), by topic key; wrap,
// when set, wraps the notifier's SNS client (to stop SNS mid-batch).
func newStormRig(t *testing.T, snsEndpoint string, topicARNs map[string]string, wrap func(alerts.PublishAPI) alerts.PublishAPI) *stormRig {
	t.Helper()
	r := &stormRig{
		ddb:          testenv.DynamoDB(t),
		webhookCount: newStormCounter(), stateCount: newStormCounter(), snsCount: newStormCounter(),
		subs: map[string]*testenv.Subscriber{}, topics: topicARNs,
		webhookLogs: &testenv.SyncBuffer{}, notifierLogs: &testenv.SyncBuffer{},
	}
	r.eventsTable = testenv.CreateTable(t, r.ddb, "EventLogTable")
	r.stTable = testenv.CreateTable(t, r.ddb, "StreamStateTable")
	ddbWith := func(c *stormCounter) *dynamodb.Client {
		return dynamodb.NewFromConfig(testenv.AWSConfig(), func(o *dynamodb.Options) {
			o.BaseEndpoint = aws.String(testenv.DynamoDBEndpoint(t))
			o.HTTPClient = c
		})
	}
	v, err := fastpix.NewVerifier(stormSecret)
	if err != nil {
		t.Fatal(err)
	}
	r.webhook = &httpapi.Webhook{
		Receiver: &ingest.Receiver{Keys: ingest.StaticKeys{V: v}, Store: &eventstore.DynamoDB{Client: ddbWith(r.webhookCount), Table: r.eventsTable}},
		Logger:   slog.New(slog.NewJSONHandler(r.webhookLogs, nil)),
	}
	snsClient := sns.NewFromConfig(testenv.AWSConfig(), func(o *sns.Options) {
		o.BaseEndpoint = aws.String(snsEndpoint)
		o.HTTPClient = r.snsCount
		o.RetryMaxAttempts = 2 // a stopped SNS fails fast
	})
	var pub alerts.PublishAPI = snsClient
	if wrap != nil {
		pub = wrap(snsClient)
	}
	routes := map[string]string{}
	for typ, key := range stormRouteTypes {
		routes[typ] = topicARNs[key]
	}
	text, _ := json.Marshal(routes)
	parsed, err := alerts.ParseRoutes(string(text)) // as functions/notifier reads ALERT_ROUTES
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(r.notifierLogs, nil))
	r.handler = &ddbstream.Handler{
		Processor: &notify.Notifier{
			State:     &streamstate.Store{Client: ddbWith(r.stateCount), Table: r.stTable},
			Publisher: &alerts.SNSPublisher{Client: pub},
			Routes:    parsed,
			Logger:    log,
		},
		Logger: log,
	}
	r.state = &streamstate.Store{Client: r.ddb, Table: r.stTable}
	r.reader = testenv.NewStreamReader(t, r.ddb, r.eventsTable)
	plain := testenv.SNSAt(snsEndpoint)
	for key, arn := range topicARNs {
		r.subs[key] = testenv.NewSubscriber(t)
		r.subs[key].Subscribe(t, plain, arn)
	}
	r.snsCount.reset()
	return r
}

// deliver posts one signed delivery to the webhook handler.
func (r *stormRig) deliver(t testing.TB, body []byte) (int, string) {
	req := post(body, sign(t, stormSecret, body))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := r.webhook.Handle(ctx, req)
	if err != nil {
		t.Errorf("webhook Handle: %v", err)
	}
	var ans struct{ Status string }
	_ = json.Unmarshal([]byte(resp.Body), &ans)
	return resp.StatusCode, ans.Status
}

// readInserts reads the events table's stream until it holds n INSERT
// records, and returns every record read, in stream order.
func (r *stormRig) readInserts(t *testing.T, n int) []streamstypes.Record {
	t.Helper()
	return r.reader.ReadUntil(t, 60*time.Second, func(recs []streamstypes.Record) bool {
		return stormInserts(recs) >= n
	})
}

func stormInserts(recs []streamstypes.Record) int {
	n := 0
	for _, rec := range recs {
		if rec.EventName == streamstypes.OperationTypeInsert {
			n++
		}
	}
	return n
}

// stormEventID is the event id of a stream record (its key).
func stormEventID(rec events.DynamoDBEventRecord) string {
	if v, ok := rec.Change.Keys[eventstore.KeyEventID]; ok {
		return v.String()
	}
	return ""
}

// received returns the event ids each topic's subscriber got, from the
// default rendering of each notification, in arrival order.
func (r *stormRig) received(t testing.TB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for key, s := range r.subs {
		for _, n := range s.Notifications() {
			if n.TopicArn != r.topics[key] {
				t.Errorf("subscriber of %s got a message of %s", r.topics[key], n.TopicArn)
			}
			var renderings map[string]string
			var def struct{ EventID string }
			if err := json.Unmarshal([]byte(n.Message), &renderings); err != nil {
				t.Fatalf("message is not the renderings document: %v: %s", err, n.Message)
			}
			if err := json.Unmarshal([]byte(renderings["default"]), &def); err != nil || def.EventID == "" {
				t.Fatalf("default rendering without eventId: %q (%v)", renderings["default"], err)
			}
			out[key] = append(out[key], def.EventID)
		}
	}
	return out
}

// scan reads a whole table, consistently.
func (r *stormRig) scan(t testing.TB, table string) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(r.ddb, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		items = append(items, page.Items...)
	}
	return items
}

// stormExpect is what the notifier must do with a sequence of stream
// records, derived from the generated events and the order of the records
// alone: a notable event is published unless an event of the same stream
// (or the same simulcast target) that is newer was applied before it, or it
// is about a target the state does not track (none named, or a new one
// beyond the bound of stormMaxTargets tracked targets per stream).
type stormExpect struct {
	published  map[string][]string // topic key → event ids, in processing order
	suppressed []string            // notable and stale
	untracked  []string            // simulcast events the state cannot follow
	staleOther int                 // not notable and stale
	// updates is the UpdateItem requests the state store must send: one per
	// event about a stream's state, and one more for a simulcast target
	// event (not a deletion) of a stream whose item has no targets map yet
	// (every other write makes one); none for a target event naming no
	// target.
	updates      int
	firstTargets int
	beyondBound  int // target events beyond the bound on an existing item
	// gets is the GetItem requests: one per target event whose condition
	// failed (stale, beyond the bound, or no item yet), reading that
	// target's entry to tell which; beyond the bound, the update and the
	// read are made twice.
	gets    int
	newest  map[string]*stormEvent     // state key → newest applied event
	tracked map[string]map[string]bool // stream → targets in its state
}

// stormMaxTargets is the documented bound on a stream's tracked simulcast
// targets (README, Alerts).
const stormMaxTargets = 500

func stormModel(byID map[string]*stormEvent, order []string) stormExpect {
	x := stormExpect{published: map[string][]string{}, newest: map[string]*stormEvent{}, tracked: map[string]map[string]bool{}}
	hasMap := map[string]bool{}
	for _, id := range order {
		e := byID[id]
		if x.tracked[e.stream] == nil {
			x.tracked[e.stream] = map[string]bool{}
		}
		targets := x.tracked[e.stream]
		if e.noTarget {
			x.untracked = append(x.untracked, id)
			continue
		}
		deletion := strings.HasSuffix(e.typ, ".deleted")
		x.updates++
		if e.target != "" && !hasMap[e.stream] {
			x.gets++
			if !deletion {
				x.updates++
				x.firstTargets++
			}
		}
		itemBefore := hasMap[e.stream]
		if !deletion || e.target == "" {
			hasMap[e.stream] = true
		}
		cur := x.newest[e.stateKey()]
		if e.target != "" && !targets[e.target] {
			cur = nil // a target not in the state: any event of it is new
		}
		stale := cur != nil && cur.newerThan(e)
		full := e.target != "" && !deletion && !targets[e.target] && len(targets) >= stormMaxTargets
		if e.target != "" && itemBefore && (stale || full) {
			x.gets++
		}
		if itemBefore && full {
			// A map without the entry may have been made between the
			// update and the read: the update is tried, and read, once more
			// before the map counts as full.
			x.updates++
			x.gets++
			x.beyondBound++
		}
		switch {
		case stale:
		case e.target != "" && deletion:
			delete(targets, e.target)
			delete(x.newest, e.stateKey())
		case e.target != "" && !targets[e.target] && len(targets) >= stormMaxTargets:
			x.untracked = append(x.untracked, id)
			continue
		default:
			if e.target != "" {
				targets[e.target] = true
			}
			x.newest[e.stateKey()] = e
		}
		switch {
		case e.notable && stale:
			x.suppressed = append(x.suppressed, id)
		case e.notable:
			x.published[e.topicKey] = append(x.published[e.topicKey], id)
		case stale:
			x.staleOther++
		}
	}
	return x
}

// stateRequests is the requests the state store must send, by operation.
func (x stormExpect) stateRequests() map[string]int {
	m := map[string]int{"UpdateItem": x.updates}
	if x.gets > 0 {
		m["GetItem"] = x.gets
	}
	return m
}

func (x stormExpect) publishes() int {
	n := 0
	for _, ids := range x.published {
		n += len(ids)
	}
	return n
}

// checkStates compares every stream's state with the model: its status set
// by its newest status transition (whatever else came after it), its
// detail by its newest other event, and exactly the targets the model
// tracks, each at its newest event. For a stream whose targets stayed within
// the bound, that is also the newest of all its generated events, whatever
// the order they came in.
func (r *stormRig) checkStates(t *testing.T, evs []*stormEvent, x stormExpect) (streams int) {
	t.Helper()
	newest := map[string]*stormEvent{}
	for _, e := range evs {
		if e.noTarget {
			continue
		}
		if cur := newest[e.stateKey()]; cur == nil || e.newerThan(cur) {
			newest[e.stateKey()] = e
		}
	}
	for stream, ts := range x.tracked {
		streams++
		st, err := r.state.Get(context.Background(), stream)
		if err != nil {
			t.Errorf("state of %s: %v", stream, err)
			continue
		}
		if want := x.newest[stream+"|"]; want != nil {
			if st.Status != want.status || st.LastEventID != want.id || st.LastEventType != want.typ || st.LastOccurredAt != want.effective() {
				t.Errorf("stream %s: state %s by %s (%s at %s), want %s by %s (%s at %s)", stream,
					st.Status, st.LastEventID, st.LastEventType, st.LastOccurredAt, want.status, want.id, want.typ, want.effective())
			}
			if all := newest[stream+"|"]; len(ts) < stormMaxTargets && all != want {
				t.Errorf("stream %s: the model's state %s is not its newest transition %s", stream, want.id, all.id)
			}
		}
		if want := x.newest[stream+"|#detail"]; want != nil && (st.DetailEventID != want.id || st.DetailOccurredAt != want.effective()) {
			t.Errorf("stream %s: detail %s at %s, want %s at %s", stream, st.DetailEventID, st.DetailOccurredAt, want.id, want.effective())
		}
		if len(st.SimulcastTargets) != len(ts) {
			t.Errorf("stream %s: %d simulcast targets in the state, want %d", stream, len(st.SimulcastTargets), len(ts))
		}
		for target := range ts {
			want := x.newest[stream+"|"+target]
			got := st.SimulcastTargets[target]
			if got.Status != want.status || got.LastEventID != want.id || got.LastOccurredAt != want.effective() {
				t.Errorf("stream %s target %s: %+v, want %s by %s", stream, target, got, want.status, want.id)
			}
		}
	}
	return streams
}

// stormCheckPublished compares what subscribers got with the model: every
// expected alert exactly once, on its topic, nothing else.
func stormCheckPublished(t *testing.T, got map[string][]string, want map[string][]string) {
	t.Helper()
	for _, key := range []string{stormTopicLive, stormTopicDown, stormTopicSimulcast} {
		g, w := append([]string(nil), got[key]...), append([]string(nil), want[key]...)
		sort.Strings(g)
		sort.Strings(w)
		if strings.Join(g, ",") != strings.Join(w, ",") {
			t.Errorf("topic %s: got %d alerts, want %d\n missing %v\n unexpected or repeated %v", key, len(g), len(w), stormMinus(w, g), stormMinus(g, w))
		}
	}
}

// stormMinus is a − b as multisets.
func stormMinus(a, b []string) []string {
	left := map[string]int{}
	for _, s := range b {
		left[s]++
	}
	var out []string
	for _, s := range a {
		if left[s] > 0 {
			left[s]--
			continue
		}
		out = append(out, s)
	}
	return out
}

// stormSend delivers bodies through the webhook with workers concurrent
// senders, in order of the channel, and counts the answers.
func (r *stormRig) stormSend(t *testing.T, bodies [][]byte, workers int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	answers := map[string]int{}
	ch := make(chan []byte)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range ch {
				code, status := r.deliver(t, b)
				mu.Lock()
				answers[fmt.Sprintf("%d %s", code, status)]++
				mu.Unlock()
			}
		}()
	}
	for _, b := range bodies {
		ch <- b
	}
	close(ch)
	wg.Wait()
	return answers
}

// handleAll hands records to the handler in batches of batchSize (Lambda's
// default is 100), failing the test on any batch item failure, and returns
// the event ids of the INSERT records in the order they were processed.
func (r *stormRig) handleAll(t *testing.T, recs []streamstypes.Record, batchSize int) []string {
	t.Helper()
	ev := ddbstream.FromStreamsRecords(r.reader.ARN, recs)
	var order []string
	for start := 0; start < len(ev.Records); start += batchSize {
		batch := events.DynamoDBEvent{Records: ev.Records[start:min(start+batchSize, len(ev.Records))]}
		resp, err := r.handler.Handle(context.Background(), batch)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			var why []string
			for _, l := range strings.Split(r.notifierLogs.String(), "\n") {
				if strings.Contains(l, "will be retried") {
					why = append(why, l)
				}
			}
			t.Fatalf("batch at %d given up on: %v, %d failures: %v", start, err, len(resp.BatchItemFailures), why)
		}
		for _, rec := range batch.Records {
			if rec.EventName == string(streamstypes.OperationTypeInsert) {
				order = append(order, stormEventID(rec))
			}
		}
	}
	return order
}
