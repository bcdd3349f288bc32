package metrics

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
)

// emfLine is the part of the format CloudWatch checks.
type emfLine struct {
	AWS struct {
		Timestamp         int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	} `json:"_aws"`
}

// validate checks one line against the EMF specification's rules: a
// millisecond timestamp, one or more directives with a namespace, at most
// 30 dimensions per set, every dimension and metric a member of the root
// object, metric values numbers, units from CloudWatch's list.
func validate(t *testing.T, line []byte) (emfLine, map[string]any) {
	t.Helper()
	var l emfLine
	var root map[string]any
	if err := json.Unmarshal(line, &l); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	_ = json.Unmarshal(line, &root)
	if l.AWS.Timestamp < 1e12 {
		t.Errorf("timestamp %d is not in milliseconds", l.AWS.Timestamp)
	}
	if len(l.AWS.CloudWatchMetrics) == 0 {
		t.Fatal("no CloudWatchMetrics directive")
	}
	for _, d := range l.AWS.CloudWatchMetrics {
		if d.Namespace == "" || len(d.Metrics) == 0 || len(d.Metrics) > 100 {
			t.Errorf("bad directive %+v", d)
		}
		for _, set := range d.Dimensions {
			if len(set) == 0 || len(set) > 30 {
				t.Errorf("dimension set %v", set)
			}
			for _, name := range set {
				if _, ok := root[name].(string); !ok {
					t.Errorf("dimension %s is not a string member of the root", name)
				}
			}
		}
		for _, m := range d.Metrics {
			if _, ok := root[m.Name].(float64); !ok {
				t.Errorf("metric %s has no numeric value", m.Name)
			}
			if m.Unit != Count && m.Unit != Milliseconds {
				t.Errorf("unit %q", m.Unit)
			}
		}
	}
	return l, root
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
			w := Webhook{E: &Emitter{W: &buf, Function: "webhook", Now: func() time.Time { return time.UnixMilli(1764168000123) }}}
			w.ObserveWebhook(tt.outcome, tt.eventType, tt.status, 1500*time.Microsecond)
			if n := strings.Count(buf.String(), "\n"); n != 1 {
				t.Fatalf("%d lines", n)
			}
			l, root := validate(t, buf.Bytes())
			d := l.AWS.CloudWatchMetrics[0]
			if d.Namespace != Namespace || l.AWS.Timestamp != 1764168000123 {
				t.Errorf("namespace %s timestamp %d", d.Namespace, l.AWS.Timestamp)
			}
			var names []string
			for _, m := range d.Metrics {
				names = append(names, m.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") {
				t.Errorf("metrics %v, want %v", names, tt.want)
			}
			if tt.byType && root["eventType"] != tt.eventType {
				t.Errorf("by type: %v", root["eventType"])
			}
			// Function alone: a dimension per event type would multiply every
			// metric of the line by the number of types.
			if len(d.Dimensions) != 1 || len(d.Dimensions[0]) != 1 || d.Dimensions[0][0] != "Function" || root["Function"] != "webhook" {
				t.Errorf("dimensions %v", d.Dimensions)
			}
			if root[HandlerLatency] != 1.5 || root["outcome"] != string(tt.outcome) || root["status"] != float64(tt.status) {
				t.Errorf("values: %v", root)
			}
		})
	}
}

func TestEmitNothing(t *testing.T) {
	var buf bytes.Buffer
	(&Emitter{W: &buf}).Emit(nil, nil)
	var nilEmitter *Emitter
	nilEmitter.Emit(nil, nil, Metric{Name: "X", Unit: Count, Value: 1})
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}
}
