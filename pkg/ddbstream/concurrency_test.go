package ddbstream_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

// ofStream is an INSERT record of an event of stream (none when "").
func ofStream(seq, eventID, stream string) events.DynamoDBEventRecord {
	r := insert(seq, eventID)
	if stream != "" {
		r.Change.NewImage[eventstore.AttrStreamID] = events.NewStringAttribute(stream)
	}
	return r
}

// tracingProcessor records, per stream, the order it processed events in,
// how many calls were in flight at most (overall and per stream), and fails
// the event ids in fail. Each call may first wait at gate.
type tracingProcessor struct {
	fail  map[string]bool
	pause func(eventID string)

	mu             sync.Mutex
	inFlight       int
	maxInFlight    int
	streamInFlight map[string]int
	maxPerStream   int
	order          map[string][]string // stream → event ids, in processing order
	seen           []string
}

func newTracing() *tracingProcessor {
	return &tracingProcessor{fail: map[string]bool{}, streamInFlight: map[string]int{}, order: map[string][]string{}}
}

func (p *tracingProcessor) Process(_ context.Context, r eventstore.Record) (notify.Result, error) {
	p.mu.Lock()
	p.inFlight++
	p.maxInFlight = max(p.maxInFlight, p.inFlight)
	if r.StreamID != "" {
		p.streamInFlight[r.StreamID]++
		p.maxPerStream = max(p.maxPerStream, p.streamInFlight[r.StreamID])
	}
	p.order[r.StreamID] = append(p.order[r.StreamID], r.EventID)
	p.seen = append(p.seen, r.EventID)
	p.mu.Unlock()
	if p.pause != nil {
		p.pause(r.EventID)
	}
	p.mu.Lock()
	p.inFlight--
	if r.StreamID != "" {
		p.streamInFlight[r.StreamID]--
	}
	p.mu.Unlock()
	if p.fail[r.EventID] {
		return notify.Result{}, fmt.Errorf("%w: event %s: SNS down", notify.ErrPublish, r.EventID)
	}
	return notify.Result{Outcome: notify.Published}, nil
}

func quietHandler(p ddbstream.Processor, limit int) *ddbstream.Handler {
	return &ddbstream.Handler{Processor: p, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), MaxConcurrency: limit}
}

func reported(resp events.DynamoDBEventResponse) []string {
	var out []string
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

// TestHandleKeepsEachStreamsOrder: 40 streams of 6 events each, shuffled
// into one batch, processed with 16 at once and random pauses: every
// stream's events in batch order, never two of one stream at once, and
// more than one stream at once.
func TestHandleKeepsEachStreamsOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	type ev struct{ id, stream string }
	var evs []ev
	for s := range 40 {
		for k := range 6 {
			evs = append(evs, ev{fmt.Sprintf("s%02d-e%d", s, k), fmt.Sprintf("stream-%02d", s)})
		}
	}
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	var recs []events.DynamoDBEventRecord
	want := map[string][]string{}
	for i, e := range evs {
		recs = append(recs, ofStream(fmt.Sprintf("%06d", i+1), e.id, e.stream))
		want[e.stream] = append(want[e.stream], e.id)
	}
	var pauseMu sync.Mutex
	p := newTracing()
	p.pause = func(string) {
		pauseMu.Lock()
		d := time.Duration(rng.Intn(2000)) * time.Microsecond
		pauseMu.Unlock()
		time.Sleep(d)
	}
	resp, err := quietHandler(p, 16).Handle(context.Background(), events.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle: %v, failures %v", err, reported(resp))
	}
	if !reflect.DeepEqual(p.order, want) {
		t.Errorf("per-stream order differs from batch order:\n got %v\nwant %v", p.order, want)
	}
	if p.maxPerStream != 1 {
		t.Errorf("%d events of one stream were processed at once, want 1", p.maxPerStream)
	}
	if p.maxInFlight < 2 || p.maxInFlight > 16 {
		t.Errorf("at most %d records in flight, want 2 to 16", p.maxInFlight)
	}
}

// gate holds the first n calls until n are in flight together, so a test
// can prove that n calls run at once without depending on timing; later
// calls pass.
type gate struct {
	mu      sync.Mutex
	n       int
	arrived int
	open    chan struct{}
	limit   time.Duration // how long a call waits for the others
	timeout bool
}

func newGate(n int) *gate { return &gate{n: n, open: make(chan struct{}), limit: 10 * time.Second} }

func (g *gate) wait(string) {
	g.mu.Lock()
	g.arrived++
	if g.arrived == g.n {
		close(g.open)
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-time.After(g.limit):
		g.mu.Lock()
		g.timeout = true
		g.mu.Unlock()
	}
}

func TestHandleBoundsConcurrency(t *testing.T) {
	tests := []struct {
		name    string
		limit   int // MaxConcurrency
		records int // each of its own stream
		want    int // calls in flight at once
	}{
		{"limit 4", 4, 40, 4},
		{"default", 0, 100, ddbstream.DefaultMaxConcurrency},
		{"fewer streams than the limit", 16, 3, 3},
		{"one at a time", 1, 10, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recs []events.DynamoDBEventRecord
			for i := range tc.records {
				recs = append(recs, ofStream(fmt.Sprintf("%03d", i+1), fmt.Sprintf("e%03d", i), fmt.Sprintf("stream-%03d", i)))
			}
			g := newGate(tc.want)
			p := newTracing()
			p.pause = g.wait
			resp, err := quietHandler(p, tc.limit).Handle(context.Background(), events.DynamoDBEvent{Records: recs})
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("Handle: %v, failures %v", err, reported(resp))
			}
			if g.timeout {
				t.Errorf("%d records were never in flight together", tc.want)
			}
			if p.maxInFlight != tc.want {
				t.Errorf("at most %d records in flight, want %d", p.maxInFlight, tc.want)
			}
			if len(p.seen) != tc.records {
				t.Errorf("processed %d records, want %d", len(p.seen), tc.records)
			}
		})
	}
}

// TestHandleRecordsWithoutStreamRunOnTheirOwn: records that name no stream
// are not ordered with each other; records of one stream never overlap.
func TestHandleRecordsWithoutStreamRunOnTheirOwn(t *testing.T) {
	g := newGate(3)
	p := newTracing()
	p.pause = g.wait
	recs := []events.DynamoDBEventRecord{ofStream("1", "a", ""), ofStream("2", "b", ""), ofStream("3", "c", "")}
	if _, err := quietHandler(p, 8).Handle(context.Background(), events.DynamoDBEvent{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if g.timeout || p.maxInFlight != 3 {
		t.Errorf("records without a stream: at most %d at once, want 3", p.maxInFlight)
	}

	g = newGate(2) // not reached while the two are of one stream
	g.limit = 200 * time.Millisecond
	p = newTracing()
	p.pause = g.wait
	recs = []events.DynamoDBEventRecord{ofStream("1", "a", "s"), ofStream("2", "b", "s")}
	if _, err := quietHandler(p, 8).Handle(context.Background(), events.DynamoDBEvent{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if !g.timeout || p.maxPerStream != 1 || !slices.Equal(p.order["s"], []string{"a", "b"}) {
		t.Errorf("one stream's records: %v, %d at once (gate reached: %v); want a then b, one at a time", p.order["s"], p.maxPerStream, !g.timeout)
	}
}

// TestHandleFailureUnderConcurrency: whatever ran at once, the records
// reported are the first failed record (by batch order) and every record
// after it; every record before it was processed; the failed stream's later
// records were not.
func TestHandleFailureUnderConcurrency(t *testing.T) {
	// Batch order: seq 1..8; streams A, B, C interleaved.
	recs := []events.DynamoDBEventRecord{
		ofStream("1", "a1", "A"), ofStream("2", "b1", "B"), ofStream("3", "c1", "C"), ofStream("4", "b2", "B"),
		ofStream("5", "a2", "A"), ofStream("6", "b3", "B"), ofStream("7", "c2", "C"), ofStream("8", "a3", "A"),
	}
	tests := []struct {
		name       string
		fail       []string
		slow       string // held until every other record that may run has run
		wantFail   []string
		mustRun    []string
		mustNotRun []string
	}{
		{
			name: "a later stream fails while an earlier record is still running", fail: []string{"b2"}, slow: "a1",
			wantFail: []string{"4", "5", "6", "7", "8"}, mustRun: []string{"a1", "b1", "c1", "b2"}, mustNotRun: []string{"b3"},
		},
		{
			name: "two streams fail: reported from the earlier", fail: []string{"c2", "a2"},
			wantFail: []string{"5", "6", "7", "8"}, mustRun: []string{"a1", "b1", "c1", "b2", "a2"}, mustNotRun: []string{"a3"},
		},
		{
			name: "the first record fails", fail: []string{"a1"},
			wantFail: []string{"1", "2", "3", "4", "5", "6", "7", "8"}, mustRun: []string{"a1"}, mustNotRun: []string{"a2", "a3"},
		},
		{
			name: "the last record fails", fail: []string{"a3"},
			wantFail: []string{"8"}, mustRun: []string{"a1", "b1", "c1", "b2", "a2", "b3", "c2", "a3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTracing()
			for _, id := range tc.fail {
				p.fail[id] = true
			}
			release := make(chan struct{})
			var once sync.Once
			p.pause = func(id string) {
				if id == tc.slow {
					select {
					case <-release:
					case <-time.After(200 * time.Millisecond):
					}
				}
				if p.fail[id] {
					once.Do(func() { close(release) })
				}
			}
			resp, err := quietHandler(p, 4).Handle(context.Background(), events.DynamoDBEvent{Records: recs})
			if err != nil {
				t.Fatal(err)
			}
			if got := reported(resp); !slices.Equal(got, tc.wantFail) {
				t.Errorf("reported %v, want %v", got, tc.wantFail)
			}
			for _, id := range tc.mustRun {
				if !slices.Contains(p.seen, id) {
					t.Errorf("%s was not processed (processed %v)", id, p.seen)
				}
			}
			for _, id := range tc.mustNotRun {
				if slices.Contains(p.seen, id) {
					t.Errorf("%s was processed after an earlier record of its stream failed (processed %v)", id, p.seen)
				}
			}
		})
	}
}
