package metrics

import (
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
)

// Metric names of the webhook function. The template's dashboard and alarms
// use the same names.
const (
	Received          = "Received"          // events with a readable type (the type is the line's eventType property, not a dimension)
	Accepted          = "Accepted"          // new events stored
	Duplicates        = "Duplicates"        // repeated deliveries, nothing written
	Probes            = "Probes"            // validation probes answered
	SignatureFailures = "SignatureFailures" // missing or wrong signature (401)
	BadRequests       = "BadRequests"       // 400, 405, 413
	StorageErrors     = "StorageErrors"     // event not stored (503): FastPix retries
	ConfigErrors      = "ConfigErrors"      // no usable signing secret (500)
	HandlerLatency    = "HandlerLatency"    // request handling time, ms
	// BadSecrets counts loads of the signing secrets that left out one or
	// more that are not base64 (the others still verify; the log names
	// their positions).
	BadSecrets = "BadSecrets"
)

// webhookOutcomeMetric is the metric that counts each webhook outcome.
var webhookOutcomeMetric = map[httpapi.Outcome]string{
	httpapi.OutcomeAccepted:      Accepted,
	httpapi.OutcomeDuplicate:     Duplicates,
	httpapi.OutcomeProbe:         Probes,
	httpapi.OutcomeUnauthorized:  SignatureFailures,
	httpapi.OutcomeMalformed:     BadRequests,
	httpapi.OutcomeTooLarge:      BadRequests,
	httpapi.OutcomeMethod:        BadRequests,
	httpapi.OutcomeUnavailable:   StorageErrors,
	httpapi.OutcomeNotConfigured: ConfigErrors,
}

// Webhook turns webhook request outcomes into metrics. It implements the
// webhook handler's Observer.
type Webhook struct {
	E *Emitter
}

var _ httpapi.Observer = Webhook{}

// ObserveWebhook records one request.
func (w Webhook) ObserveWebhook(outcome httpapi.Outcome, eventType string, status int, d time.Duration) {
	ms := []Metric{{Name: HandlerLatency, Unit: Milliseconds, Value: float64(d.Microseconds()) / 1000}}
	if name := webhookOutcomeMetric[outcome]; name != "" {
		ms = append(ms, Metric{Name: name, Unit: Count, Value: 1})
	}
	props := map[string]any{"outcome": outcome, "status": status}
	if eventType != "" {
		ms = append(ms, Metric{Name: Received, Unit: Count, Value: 1})
		// A property, not a dimension: every metric of the line times every
		// event type was most of the product's CloudWatch bill; the
		// dashboard counts by type from the log (Logs Insights).
		props["eventType"] = eventType
	}
	w.E.Emit(nil, props, ms...)
}

// ObserveBadSecrets records a load of the signing secrets that left a
// malformed one out.
func (w Webhook) ObserveBadSecrets() {
	w.E.Emit(nil, nil, Metric{Name: BadSecrets, Unit: Count, Value: 1})
}
