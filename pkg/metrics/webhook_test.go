package metrics

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
)

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
		Webhook{E: &Emitter{W: &buf, Function: "webhook"}}.ObserveWebhook(o, "", 200, time.Millisecond)
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
	Webhook{E: &Emitter{W: &buf, Function: "webhook"}}.ObserveBadSecrets()
	_, root := validate(t, buf.Bytes())
	if root[BadSecrets] != float64(1) || root["Function"] != "webhook" {
		t.Errorf("bad secrets line: %v", root)
	}
}
