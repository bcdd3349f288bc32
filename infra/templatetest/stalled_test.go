package templatetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/internal/app/webhook"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// The deployed webhook, with the template's timeout, against a DynamoDB
// that accepts the connection and never answers: the function itself
// answers 503 (so FastPix retries), logs why and counts StorageErrors
// before Lambda's deadline. Were the write allowed the whole timeout, the
// emulator would end the invocation ("Task timed out") with none of the
// three, and StorageErrorsAlarm would never fire for it.
func TestWebhookStalledStoreAnswersBeforeTheDeadline(t *testing.T) {
	timeout := webhookTimeout(t)
	url, logs := startWebhookUnderRIE(t,
		"EVENTS_TABLE=EventLogTable",
		"AWS_ENDPOINT_URL_DYNAMODB="+testenv.StalledEndpoint(t),
		// The emulator gives each invocation this deadline, as Lambda does.
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", int(timeout/time.Second)))

	// A probe first, so the bootstrap's start is not in the measurement.
	if resp := invoke(t, url, apiEvent([]byte("{}"), "")); resp.StatusCode != 200 {
		t.Fatalf("probe: %d %s", resp.StatusCode, resp.Body)
	}
	body := readFixture(t, "seed-live_stream.created-1.json")
	sig, err := fastpix.Sign(demoSecret, body)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp := invoke(t, url, apiEvent(body, sig)) // fails the test on a timed-out invocation
	took := time.Since(start)
	var answer struct{ Status, EventID, Error string }
	if err := json.Unmarshal([]byte(resp.Body), &answer); err != nil {
		t.Fatalf("answer %q: %v", resp.Body, err)
	}
	if resp.StatusCode != 503 || answer.Status != "error" || answer.EventID == "" {
		t.Errorf("stalled store: %d %s, want 503 with the event id", resp.StatusCode, resp.Body)
	}

	out := logs.String()
	var logged, counted bool
	for _, line := range strings.Split(out, "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		msg, _ := l["error"].(string)
		if l["msg"] == "webhook" && l["outcome"] == "unavailable" && l["status"] == 503.0 &&
			strings.Contains(msg, "deadline exceeded") && l["level"] == "ERROR" {
			logged = true
		}
		if l[webhook.StorageErrors] == 1.0 {
			counted = true
		}
	}
	if !logged {
		t.Error("no ERROR log line says the event was not stored because the store timed out")
	}
	if !counted {
		t.Errorf("no %s metric was written", webhook.StorageErrors)
	}
	if strings.Contains(out, "Task timed out") {
		t.Error("the invocation timed out")
	}
	t.Logf("stalled store: 503 after %v; the function's timeout is %v", took.Round(time.Millisecond), timeout)
}

// webhookTimeout is the webhook function's timeout in template.yaml.
func webhookTimeout(t *testing.T) time.Duration {
	t.Helper()
	tp := load(t)
	secs, ok := props(t, tp, "WebhookFunction").Get("Timeout").Number()
	if !ok {
		secs, ok = tp.Globals("Function").Get("Timeout").Number()
	}
	if !ok || secs <= 0 {
		t.Fatal("template.yaml sets no timeout for WebhookFunction")
	}
	return time.Duration(secs) * time.Second
}
