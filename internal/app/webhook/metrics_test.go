package webhook

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
)

func emitter(buf *bytes.Buffer) *metrics.Emitter {
	return &metrics.Emitter{W: buf, Function: "webhook", Now: func() time.Time { return time.UnixMilli(1764168000123) }}
}

func parse(t *testing.T, buf *bytes.Buffer) metrics.Line {
	t.Helper()
	l, err := metrics.Parse(buf.Bytes()) // one line: a second is not JSON
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Every outcome the webhook handler reports is counted by a metric of its
// own, and the map names no outcome the handler does not report, so the two
// sides cannot drift apart: an alarm on a metric no outcome feeds would stay
// at zero with nothing failing.
func TestEveryWebhookOutcomeHasAMetric(t *testing.T) {
	for _, o := range httpapi.Outcomes() {
		if webhookOutcomeMetric[o] == "" {
			t.Errorf("outcome %s has no metric", o)
		}
		var buf bytes.Buffer
		metricsObserver{e: emitter(&buf)}.ObserveWebhook(o, "", 200, time.Millisecond)
		if strings.Count(buf.String(), `"Unit":"Count"`) != 1 {
			t.Errorf("outcome %s is counted by no metric: %s", o, buf.String())
		}
	}
	for o := range webhookOutcomeMetric {
		if !slices.Contains(httpapi.Outcomes(), o) {
			t.Errorf("metric for %s, which the handler never reports", o)
		}
	}
}

func TestWebhookBadSecrets(t *testing.T) {
	var buf bytes.Buffer
	metricsObserver{e: emitter(&buf)}.ObserveBadSecrets()
	l := parse(t, &buf)
	if l.Root[BadSecrets] != float64(1) || l.Root["Function"] != "webhook" {
		t.Errorf("bad secrets line: %v", l.Root)
	}
}

func TestWebhookMetrics(t *testing.T) {
	tests := []struct {
		outcome   httpapi.Outcome
		eventType string
		status    int
		want      []string
		byType    bool
	}{
		{httpapi.OutcomeAccepted, "video.live_stream.active", 200, []string{HandlerLatency, Accepted, Received}, true},
		{httpapi.OutcomeDuplicate, "video.live_stream.active", 200, []string{HandlerLatency, Duplicates, Received}, true},
		{httpapi.OutcomeProbe, "", 200, []string{HandlerLatency, Probes}, false},
		{httpapi.OutcomeUnauthorized, "", 401, []string{HandlerLatency, SignatureFailures}, false},
		{httpapi.OutcomeMalformed, "", 400, []string{HandlerLatency, BadRequests}, false},
		{httpapi.OutcomeTooLarge, "", 413, []string{HandlerLatency, BadRequests}, false},
		{httpapi.OutcomeMethod, "", 405, []string{HandlerLatency, BadRequests}, false},
		{httpapi.OutcomeUnavailable, "video.live_stream.idle", 503, []string{HandlerLatency, StorageErrors, Received}, true},
		{httpapi.OutcomeNotConfigured, "", 500, []string{HandlerLatency, ConfigErrors}, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.outcome), func(t *testing.T) {
			var buf bytes.Buffer
			metricsObserver{e: emitter(&buf)}.ObserveWebhook(tt.outcome, tt.eventType, tt.status, 1500*time.Microsecond)
			l := parse(t, &buf)
			if l.Namespace != metrics.Namespace || l.Timestamp != 1764168000123 {
				t.Errorf("namespace %s timestamp %d", l.Namespace, l.Timestamp)
			}
			if got := strings.Join(l.Names(), ","); got != strings.Join(tt.want, ",") {
				t.Errorf("metrics %v, want %v", got, tt.want)
			}
			if tt.byType && l.Root["eventType"] != tt.eventType {
				t.Errorf("by type: %v", l.Root["eventType"])
			}
			// Function alone: a dimension per event type would multiply every
			// metric of the line by the number of types.
			if len(l.Dimensions) != 1 || len(l.Dimensions[0]) != 1 || l.Dimensions[0][0] != "Function" || l.Root["Function"] != "webhook" {
				t.Errorf("dimensions %v", l.Dimensions)
			}
			if l.Root[HandlerLatency] != 1.5 || l.Root["outcome"] != string(tt.outcome) || l.Root["status"] != float64(tt.status) {
				t.Errorf("values: %v", l.Root)
			}
		})
	}
}
