package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

func TestNotifierMetrics(t *testing.T) {
	occurred := time.Date(2024, 4, 2, 11, 17, 52, 0, time.UTC)
	const topic = "arn:aws:sns:us-east-1:123456789012:fastpix-receiver-StreamLiveTopic-AbC"
	tests := []struct {
		name     string
		r        NotifyRecord
		want     []string // metric names, in order
		topicDim string   // "" when no Topic dimension
		values   map[string]float64
	}{
		{
			name: "published live alert",
			r: NotifyRecord{Outcome: "published", EventType: "video.live_stream.active", Topic: topic, Status: "active",
				StateUpdated: true, OccurredAt: occurred, PublishedAt: occurred.Add(1234500 * time.Microsecond)},
			want: []string{Published, AlertDelay, StateUpdates, StreamsWentLive}, topicDim: "fastpix-receiver-StreamLiveTopic-AbC",
			values: map[string]float64{Published: 1, AlertDelay: 1234.5, StreamsWentLive: 1},
		},
		{
			name: "published with our clock behind FastPix's",
			r:    NotifyRecord{Outcome: "published", Topic: topic, Status: "disconnected", StateUpdated: true, OccurredAt: occurred, PublishedAt: occurred.Add(-time.Second)},
			want: []string{Published, AlertDelay, StateUpdates, StreamsDisconnected}, topicDim: "fastpix-receiver-StreamLiveTopic-AbC",
			values: map[string]float64{AlertDelay: 0},
		},
		{
			name: "simulcast target is not a stream going live",
			r:    NotifyRecord{Outcome: "published", Topic: topic, Status: "active", Simulcast: true, StateUpdated: true, OccurredAt: occurred, PublishedAt: occurred},
			want: []string{Published, AlertDelay, StateUpdates}, topicDim: "fastpix-receiver-StreamLiveTopic-AbC",
		},
		{name: "stale alert", r: NotifyRecord{Outcome: "suppressed", Status: "active"}, want: []string{SuppressedStale}},
		{name: "test skipped", r: NotifyRecord{Outcome: "test_skipped", Status: "active", StateUpdated: true}, want: []string{TestSkipped, StateUpdates, StreamsWentLive}},
		{name: "recorded", r: NotifyRecord{Outcome: "recorded", Status: "idle", StateUpdated: true}, want: []string{EventsRecorded, StateUpdates}},
		{name: "stale", r: NotifyRecord{Outcome: "stale", Status: "idle"}, want: []string{StaleEvents}},
		{name: "recording: not a stream going live", r: NotifyRecord{Outcome: "recorded", Status: "active", Info: true, StateUpdated: true}, want: []string{EventsRecorded, StateUpdates}},
		{name: "untracked target", r: NotifyRecord{Outcome: "untracked", Simulcast: true}, want: []string{UntrackedSimulcastEvents}},
		{name: "unprocessable", r: NotifyRecord{Outcome: "unprocessable"}, want: []string{UnprocessableRecords}},
		{name: "clock skewed", r: NotifyRecord{Outcome: "suppressed", ClockSkewed: true}, want: []string{SuppressedStale, ClockSkewed}},
		{name: "a change sent to the feed", r: NotifyRecord{Outcome: "recorded", Status: "idle", StateUpdated: true, ChangePublished: true}, want: []string{EventsRecorded, ChangesPublished, StateUpdates}},
		{name: "publish failed", r: NotifyRecord{Outcome: "failed", Failure: FailurePublish, StateUpdated: true, Status: "active"}, want: []string{PublishFailures, StateUpdates, StreamsWentLive}},
		{name: "state failed", r: NotifyRecord{Outcome: "failed", Failure: FailureState}, want: []string{StateFailures}},
		{name: "unreadable", r: NotifyRecord{Outcome: "unreadable"}, want: []string{UnreadableRecords}},
		{name: "disconnect held", r: NotifyRecord{Outcome: "held", Status: "disconnected", StateUpdated: true}, want: []string{DisconnectsHeld, StateUpdates, StreamsDisconnected}},
		{name: "brief drop", r: NotifyRecord{Outcome: "brief_drop", Status: "active", StateUpdated: true}, want: []string{BriefDrops, StateUpdates, StreamsWentLive}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			Notifier{E: &Emitter{W: &buf, Function: "notifier"}}.ObserveRecord(tc.r)
			if n := strings.Count(buf.String(), "\n"); n != 1 {
				t.Fatalf("%d lines: %s", n, buf.String())
			}
			l, root := validate(t, buf.Bytes())
			d := l.AWS.CloudWatchMetrics[0]
			if d.Namespace != Namespace || root["Function"] != "notifier" {
				t.Errorf("namespace %s, function %v", d.Namespace, root["Function"])
			}
			var names []string
			for _, m := range d.Metrics {
				names = append(names, m.Name)
				wantUnit := Count
				if m.Name == AlertDelay {
					wantUnit = Milliseconds
				}
				if m.Unit != wantUnit {
					t.Errorf("%s in %s", m.Name, m.Unit)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Errorf("metrics %v, want %v", names, tc.want)
			}
			if tc.topicDim != "" {
				if len(d.Dimensions) != 2 || strings.Join(d.Dimensions[1], ",") != "Function,Topic" || root["Topic"] != tc.topicDim {
					t.Errorf("dimensions %v, Topic %v", d.Dimensions, root["Topic"])
				}
			} else if len(d.Dimensions) != 1 {
				t.Errorf("dimensions %v, want Function only", d.Dimensions)
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
		Notifier{E: &Emitter{W: &buf, Function: "notifier"}}.ObserveBatch(tc.records, tc.retried)
		_, root := validate(t, buf.Bytes())
		if root[BatchFailures] != tc.failed || root[RecordsRetried] != float64(tc.retried) || root["records"] != float64(tc.records) {
			t.Errorf("batch %d/%d: %v", tc.records, tc.retried, root)
		}
	}
}

func TestTopicName(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:sns:us-east-1:1:Live": "Live",
		"Live":                         "Live",
		"":                             "",
	} {
		if got := TopicName(arn); got != want {
			t.Errorf("TopicName(%q) = %q", arn, got)
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
			failures = []string{FailurePublish, FailureState, FailureQueue}
		}
		for _, f := range failures {
			var buf bytes.Buffer
			Notifier{E: &Emitter{W: &buf, Function: "notifier"}}.ObserveRecord(NotifyRecord{Outcome: o, Failure: f})
			if n := strings.Count(buf.String(), `"Unit":"Count"`); n != 1 {
				t.Errorf("outcome %s (failure %q) is counted by %d metrics: %s", o, f, n, buf.String())
			}
		}
	}
}
