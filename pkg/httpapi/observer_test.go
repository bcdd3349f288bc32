package httpapi

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/metrics"
)

var _ Observer = metrics.Webhook{}

// Every outcome the handler reports is counted by a metric of its own, so
// the names on both sides cannot drift apart.
func TestEveryOutcomeHasAMetric(t *testing.T) {
	for _, o := range []string{OutcomeAccepted, OutcomeDuplicate, OutcomeProbe, OutcomeUnauthorized, OutcomeMalformed, OutcomeTooLarge, OutcomeMethod, OutcomeNotConfigured, OutcomeUnavailable} {
		var buf bytes.Buffer
		metrics.Webhook{E: &metrics.Emitter{W: &buf, Function: "webhook"}}.ObserveWebhook(o, "", 200, time.Millisecond)
		if strings.Count(buf.String(), `"Unit":"Count"`) != 1 {
			t.Errorf("outcome %s is counted by no metric: %s", o, buf.String())
		}
	}
}
