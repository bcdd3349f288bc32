package metrics

import "time"

// Metric names of the webhook function. The template's dashboard and alarms
// use the same names.
const (
	Received          = "Received"          // events with a readable type, by EventType
	Accepted          = "Accepted"          // new events stored
	Duplicates        = "Duplicates"        // repeated deliveries, nothing written
	Probes            = "Probes"            // validation probes answered
	SignatureFailures = "SignatureFailures" // missing or wrong signature (401)
	BadRequests       = "BadRequests"       // 400, 405, 413
	StorageErrors     = "StorageErrors"     // event not stored (503): FastPix retries
	ConfigErrors      = "ConfigErrors"      // no usable signing secret (500)
	HandlerLatency    = "HandlerLatency"    // request handling time, ms
)

// Webhook turns webhook request outcomes into metrics. It implements the
// webhook handler's Observer.
type Webhook struct {
	E *Emitter
}

// ObserveWebhook records one request.
func (w Webhook) ObserveWebhook(outcome, eventType string, status int, d time.Duration) {
	name := ""
	switch outcome {
	case "accepted":
		name = Accepted
	case "duplicate":
		name = Duplicates
	case "probe":
		name = Probes
	case "unauthorized":
		name = SignatureFailures
	case "malformed", "too_large", "method":
		name = BadRequests
	case "unavailable":
		name = StorageErrors
	case "not_configured":
		name = ConfigErrors
	}
	ms := []Metric{{Name: HandlerLatency, Unit: Milliseconds, Value: float64(d.Microseconds()) / 1000}}
	if name != "" {
		ms = append(ms, Metric{Name: name, Unit: Count, Value: 1})
	}
	var dims map[string]string
	if eventType != "" {
		ms = append(ms, Metric{Name: Received, Unit: Count, Value: 1})
		dims = map[string]string{"EventType": eventType}
	}
	w.E.Emit(dims, map[string]any{"outcome": outcome, "status": status}, ms...)
}
