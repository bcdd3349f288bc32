package ddbstream_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

// scripted answers each event id with a fixed result or error.
type scripted map[string]struct {
	res notify.Result
	err error
}

func (s scripted) Process(_ context.Context, r eventstore.Record) (notify.Result, error) {
	a := s[r.EventID]
	return a.res, a.err
}

type recordingObserver struct {
	records []metrics.NotifyRecord
	batches [][2]int
}

func (o *recordingObserver) ObserveRecord(r metrics.NotifyRecord) { o.records = append(o.records, r) }
func (o *recordingObserver) ObserveBatch(n, retried int) {
	o.batches = append(o.batches, [2]int{n, retried})
}

func TestHandleObserver(t *testing.T) {
	published := time.Date(2024, 4, 2, 11, 17, 53, 0, time.UTC)
	withTime := func(r events.DynamoDBEventRecord, at string) events.DynamoDBEventRecord {
		r.Change.NewImage[eventstore.AttrOccurredAt] = events.NewStringAttribute(at)
		return r
	}
	p := scripted{
		"a": {res: notify.Result{Outcome: notify.Published, Topic: "arn:aws:sns:us-east-1:1:Live", Status: "active", StateUpdated: true, PublishedAt: published}},
		"b": {res: notify.Result{Outcome: notify.Suppressed, Status: "active"}},
		"c": {res: notify.Result{Status: "active"}, err: fmt.Errorf("%w: event c: SNS down", notify.ErrPublish)},
	}
	obs := &recordingObserver{}
	// One at a time: what runs after the failure is then fixed.
	h := &ddbstream.Handler{Processor: p, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Observer: obs, MaxConcurrency: 1}
	resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		withTime(insert("1", "a"), "2024-04-02T11:17:52.000000000Z"), unreadable("2"), insert("3", "b"), insert("4", "c"), insert("5", "d"),
	}})
	if err != nil || len(resp.BatchItemFailures) != 2 {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
	want := []metrics.NotifyRecord{
		{Outcome: "published", EventType: "video.live_stream.active", Topic: "arn:aws:sns:us-east-1:1:Live", Status: "active", StateUpdated: true,
			OccurredAt: time.Date(2024, 4, 2, 11, 17, 52, 0, time.UTC), PublishedAt: published},
		{Outcome: "unreadable"},
		{Outcome: "suppressed", EventType: "video.live_stream.active", Status: "active"},
		{Outcome: "failed", EventType: "video.live_stream.active", Status: "active", Failure: metrics.FailurePublish},
	}
	if !reflect.DeepEqual(obs.records, want) {
		t.Errorf("observed\n%+v\nwant\n%+v", obs.records, want)
	}
	if !reflect.DeepEqual(obs.batches, [][2]int{{5, 2}}) {
		t.Errorf("batches %v, want one of 5 records with 2 retried", obs.batches)
	}
}
