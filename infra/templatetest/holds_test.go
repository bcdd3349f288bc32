package templatetest

import (
	"slices"
	"strconv"
	"testing"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
)

// The held disconnects' checks: a queue the notifier sends to and reads as
// an SQS event source, partial batch failures, a visibility timeout Lambda
// accepts, a dead-letter queue with an alarm; and the rules' settings as
// parameters within the ranges the code accepts, passed by Ref.
func TestDisconnectChecks(t *testing.T) {
	tp := load(t)
	fn := tp.props(t, "NotifierFunction")
	var p map[string]any
	for _, ev := range m(fn["Events"]) {
		if s(m(ev)["Type"]) == "SQS" {
			p = m(m(ev)["Properties"])
		}
	}
	if p == nil {
		t.Fatal("NotifierFunction has no SQS event")
	}
	timeout, _ := fn["Timeout"].(float64)
	q := tp.props(t, "DisconnectCheckQueue")
	visibility, _ := q["VisibilityTimeout"].(float64)
	batch, _ := p["BatchSize"].(float64)
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"Queue is DisconnectCheckQueue.Arn", target(p["Queue"]) == "DisconnectCheckQueue.Arn"},
		{"FunctionResponseTypes [ReportBatchItemFailures]", slices.Equal(l(p["FunctionResponseTypes"]), []any{"ReportBatchItemFailures"})},
		{"a batch of 1 to 10 (no batching window needed)", batch >= 1 && batch <= 10},
		{"the queue's visibility timeout at least the function's timeout (Lambda refuses less)", timeout > 0 && visibility >= timeout},
		{"a redrive policy to DisconnectCheckDeadLetterQueue", target(path(q, "RedrivePolicy", "deadLetterTargetArn")) == "DisconnectCheckDeadLetterQueue.Arn"},
		{"a finite maxReceiveCount", path(q, "RedrivePolicy", "maxReceiveCount") != nil},
		{"the queue encrypted", q["SqsManagedSseEnabled"] == true},
		{"no queue-wide delay (each message carries its own)", q["DelaySeconds"] == nil},
	} {
		if !c.ok {
			t.Errorf("disconnect checks: want %s", c.what)
		}
	}
	env := m(path(fn, "Environment", "Variables"))
	if got := target(env["DISCONNECT_CHECK_QUEUE_URL"]); got != "DisconnectCheckQueue" {
		t.Errorf("DISCONNECT_CHECK_QUEUE_URL = %s, want Ref DisconnectCheckQueue", got)
	}
	params := m(tp["Parameters"])
	for _, c := range []struct {
		param, env    string
		def, min, max float64
	}{
		{"DisconnectGraceSeconds", alertrules.EnvGraceSeconds, 30, 0, float64(alertrules.MaxGrace.Seconds())},
		{"FlapThreshold", alertrules.EnvFlapThreshold, 3, 0, alertrules.MaxDrops},
		{"FlapWindowMinutes", alertrules.EnvFlapWindowMinutes, 10, 1, 1440},
	} {
		pm := m(params[c.param])
		if pm == nil {
			t.Errorf("no parameter %s", c.param)
			continue
		}
		lo, _ := pm["MinValue"].(float64)
		hi, _ := pm["MaxValue"].(float64)
		if s(pm["Type"]) != "Number" || s(pm["Default"]) != strconv.FormatFloat(c.def, 'f', -1, 64) || lo != c.min || hi != c.max {
			t.Errorf("%s: type %v default %v range %v..%v; want Number %v in %v..%v", c.param, pm["Type"], pm["Default"], pm["MinValue"], pm["MaxValue"], c.def, c.min, c.max)
		}
		if got := target(env[c.env]); got != c.param {
			t.Errorf("NotifierFunction %s = %s, want Ref %s", c.env, got, c.param)
		}
	}
}
