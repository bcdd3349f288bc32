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
	evs, err := tp.Events("NotifierFunction", "SQS")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("NotifierFunction has %d SQS events, want 1", len(evs))
	}
	p := evs[0].Properties
	fn := props(t, tp, "NotifierFunction")
	timeout, _ := fn.Get("Timeout").Number()
	q := props(t, tp, "DisconnectCheckQueue")
	visibility, _ := q.Get("VisibilityTimeout").Number()
	batch, _ := p.Get("BatchSize").Number()
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"Queue is DisconnectCheckQueue.Arn", p.Get("Queue").Target() == "DisconnectCheckQueue.Arn"},
		{"FunctionResponseTypes [ReportBatchItemFailures]", slices.Equal(p.Get("FunctionResponseTypes").Texts(), []string{"ReportBatchItemFailures"})},
		{"a batch of 1 to 10 (no batching window needed)", batch >= 1 && batch <= 10},
		{"the queue's visibility timeout at least the function's timeout (Lambda refuses less)", timeout > 0 && visibility >= timeout},
		{"a redrive policy to DisconnectCheckDeadLetterQueue", q.Get("RedrivePolicy", "deadLetterTargetArn").Target() == "DisconnectCheckDeadLetterQueue.Arn"},
		{"a finite maxReceiveCount", q.Get("RedrivePolicy", "maxReceiveCount").Exists()},
		{"the queue encrypted", q.Get("SqsManagedSseEnabled").Bool()},
		{"no queue-wide delay (each message carries its own)", !q.Get("DelaySeconds").Exists()},
	} {
		if !c.ok {
			t.Errorf("disconnect checks: want %s", c.what)
		}
	}
	env := fn.Get("Environment", "Variables")
	if got := env.Get("DISCONNECT_CHECK_QUEUE_URL").Target(); got != "DisconnectCheckQueue" {
		t.Errorf("DISCONNECT_CHECK_QUEUE_URL = %s, want Ref DisconnectCheckQueue", got)
	}
	for _, c := range []struct {
		param, env    string
		def, min, max float64
	}{
		{"DisconnectGraceSeconds", alertrules.EnvGraceSeconds, 30, 0, alertrules.MaxGrace.Seconds()},
		{"FlapThreshold", alertrules.EnvFlapThreshold, 3, 0, alertrules.MaxDrops},
		{"FlapWindowMinutes", alertrules.EnvFlapWindowMinutes, 10, 1, 1440},
	} {
		pm := tp.Parameter(c.param)
		if !pm.Exists() {
			t.Errorf("no parameter %s", c.param)
			continue
		}
		lo, _ := pm.Get("MinValue").Number()
		hi, _ := pm.Get("MaxValue").Number()
		if pm.Get("Type").Text() != "Number" || pm.Get("Default").Text() != strconv.FormatFloat(c.def, 'f', -1, 64) || lo != c.min || hi != c.max {
			t.Errorf("%s: %s; want Number, default %v, %v to %v", c.param, pm, c.def, c.min, c.max)
		}
		if got := env.Get(c.env).Target(); got != c.param {
			t.Errorf("NotifierFunction %s = %s, want Ref %s", c.env, got, c.param)
		}
	}
}
