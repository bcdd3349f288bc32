package notifier

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

func newObserver(buf *bytes.Buffer) metricsObserver {
	return metricsObserver{e: &metrics.Emitter{W: buf, Function: "notifier"}}
}

func parseLine(t *testing.T, buf *bytes.Buffer) metrics.Line {
	t.Helper()
	l, err := metrics.Parse(buf.Bytes()) // one line: a second is not JSON
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestNotifierMetrics(t *testing.T) {
	occurred := time.Date(2024, 4, 2, 11, 17, 52, 0, time.UTC)
	const topic = "arn:aws:sns:us-east-1:123456789012:fastpix-receiver-StreamLiveTopic-AbC"
	tests := []struct {
		name     string
		r        record
		want     []string // metric names, in order
		topicDim string   // "" when no Topic dimension
		values   map[string]float64
	}{
		{
			name: "published live alert",
			r: record{Outcome: "published", EventType: "video.live_stream.active", Topic: topic, Status: "active",
				StateUpdated: true, OccurredAt: occurred, PublishedAt: occurred.Add(1234500 * time.Microsecond)},
			want: []string{Published, AlertDelay, StateUpdates, StreamsWentLive}, topicDim: "fastpix-receiver-StreamLiveTopic-AbC",
			values: map[string]float64{Published: 1, AlertDelay: 1234.5, StreamsWentLive: 1},
		},
		{
			name: "published with our clock behind FastPix's",
			r:    record{Outcome: "published", Topic: topic, Status: "disconnected", StateUpdated: true, OccurredAt: occurred, PublishedAt: occurred.Add(-time.Second)},
			want: []string{Published, AlertDelay, StateUpdates, StreamsDisconnected}, topicDim: "fastpix-receiver-StreamLiveTopic-AbC",
			values: map[string]float64{AlertDelay: 0},
		},
		{
			name: "simulcast target is not a stream going live",
			r:    record{Outcome: "published", Topic: topic, Status: "active", Simulcast: true, StateUpdated: true, OccurredAt: occurred, PublishedAt: occurred},
			want: []string{Published, AlertDelay, StateUpdates}, topicDim: "fastpix-receiver-StreamLiveTopic-AbC",
		},
		{name: "stale alert", r: record{Outcome: "suppressed", Status: "active"}, want: []string{SuppressedStale}},
		{name: "test skipped", r: record{Outcome: "test_skipped", Status: "active", StateUpdated: true}, want: []string{TestSkipped, StateUpdates, StreamsWentLive}},
		{name: "recorded", r: record{Outcome: "recorded", Status: "idle", StateUpdated: true}, want: []string{EventsRecorded, StateUpdates}},
		{name: "stale", r: record{Outcome: "stale", Status: "idle"}, want: []string{StaleEvents}},
		{name: "recording: not a stream going live", r: record{Outcome: "recorded", Status: "active", Info: true, StateUpdated: true}, want: []string{EventsRecorded, StateUpdates}},
		{name: "untracked target", r: record{Outcome: "untracked", Simulcast: true}, want: []string{UntrackedSimulcastEvents}},
		{name: "unprocessable", r: record{Outcome: "unprocessable"}, want: []string{UnprocessableRecords}},
		{name: "clock skewed", r: record{Outcome: "suppressed", ClockSkewed: true}, want: []string{SuppressedStale, ClockSkewed}},
		{name: "a change sent to the feed", r: record{Outcome: "recorded", Status: "idle", StateUpdated: true, ChangePublished: true}, want: []string{EventsRecorded, ChangesPublished, StateUpdates}},
		{name: "publish failed", r: record{Outcome: "failed", Failure: failurePublish, StateUpdated: true, Status: "active"}, want: []string{PublishFailures, StateUpdates, StreamsWentLive}},
		{name: "state failed", r: record{Outcome: "failed", Failure: failureState}, want: []string{StateFailures}},
		{name: "unreadable", r: record{Outcome: "unreadable"}, want: []string{UnreadableRecords}},
		{name: "disconnect held", r: record{Outcome: "held", Status: "disconnected", StateUpdated: true}, want: []string{DisconnectsHeld, StateUpdates, StreamsDisconnected}},
		{name: "brief drop", r: record{Outcome: "brief_drop", Status: "active", StateUpdated: true}, want: []string{BriefDrops, StateUpdates, StreamsWentLive}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			newObserver(&buf).observe(tc.r)
			l := parseLine(t, &buf)
			root := l.Root
			if l.Namespace != metrics.Namespace || root["Function"] != "notifier" {
				t.Errorf("namespace %s, function %v", l.Namespace, root["Function"])
			}
			for _, m := range l.Metrics {
				wantUnit := metrics.Count
				if m.Name == AlertDelay {
					wantUnit = metrics.Milliseconds
				}
				if m.Unit != wantUnit {
					t.Errorf("%s in %s", m.Name, m.Unit)
				}
			}
			if names := l.Names(); strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Errorf("metrics %v, want %v", names, tc.want)
			}
			if tc.topicDim != "" {
				if len(l.Dimensions) != 2 || strings.Join(l.Dimensions[1], ",") != "Function,Topic" || root["Topic"] != tc.topicDim {
					t.Errorf("dimensions %v, Topic %v", l.Dimensions, root["Topic"])
				}
			} else if len(l.Dimensions) != 1 {
				t.Errorf("dimensions %v, want Function only", l.Dimensions)
			}
			for name, v := range tc.values {
				if root[name] != v {
					t.Errorf("%s = %v, want %v", name, root[name], v)
				}
			}
		})
	}
}

func TestNotifierBatch(t *testing.T) {
	tests := []struct {
		records, retried int
		failed           float64
	}{{10, 0, 0}, {10, 3, 1}}
	for _, tc := range tests {
		var buf bytes.Buffer
		newObserver(&buf).Batch(tc.records, tc.retried)
		root := parseLine(t, &buf).Root
		if root[BatchFailures] != tc.failed || root[RecordsRetried] != float64(tc.retried) || root["records"] != float64(tc.records) {
			t.Errorf("batch %d/%d: %v", tc.records, tc.retried, root)
		}
	}
}

func TestTopicNameDimension(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:sns:us-east-1:1:Live": "Live",
		"Live":                         "Live",
		"":                             "",
	} {
		if got := topicName(arn); got != want {
			t.Errorf("topicName(%q) = %q", arn, got)
		}
	}
}

// Every outcome the notifier and its stream adapter report is counted by a
// metric of its own, so renaming one on either side cannot leave an alarm
// watching a metric that stays at zero.
func TestEveryNotifierOutcomeHasAMetric(t *testing.T) {
	for _, o := range notify.Outcomes() {
		failures := []string{""}
		if o == notify.Failed {
			failures = []string{failurePublish, failureState, failureQueue}
		}
		for _, f := range failures {
			var buf bytes.Buffer
			newObserver(&buf).observe(record{Outcome: o, Failure: f})
			if n := strings.Count(buf.String(), `"Unit":"Count"`); n != 1 {
				t.Errorf("outcome %s (failure %q) is counted by %d metrics: %s", o, f, n, buf.String())
			}
		}
	}
}

// A stream not brought up to date is counted by what failed, so the alarm
// on PublishFailures is not fed by a DynamoDB outage, nor the reverse.
func TestStreamFailedCountsWhatFailed(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("%w: stream s: boom", notify.ErrState):                                   StateFailures,
		errors.New("read: connection refused"):                                              StateFailures,
		fmt.Errorf("%w: stream s: %w", notify.ErrPublish, errors.New("throttled")):          PublishFailures,
		fmt.Errorf("%w: %w", notify.ErrPublish, fmt.Errorf("%w: x", checkqueue.ErrEnqueue)): CheckQueueFailures,
	} {
		var buf bytes.Buffer
		newObserver(&buf).StreamFailed(err)
		if names := parseLine(t, &buf).Names(); strings.Join(names, ",") != want {
			t.Errorf("%v: metrics %v, want %s", err, names, want)
		}
	}
}

func TestSkippedRecords(t *testing.T) {
	for o, want := range map[notify.Outcome]string{notify.Ignored: IgnoredRecords, notify.Unreadable: UnreadableRecords} {
		var buf bytes.Buffer
		newObserver(&buf).Skipped(o)
		if names := parseLine(t, &buf).Names(); strings.Join(names, ",") != want {
			t.Errorf("%s: metrics %v, want %s", o, names, want)
		}
	}
}
