package webhook

import (
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
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

// metricsObserver turns webhook request outcomes into metrics. It is the webhook
// handler's Observer; it lives with the wiring, so that pkg/metrics (the
// format) knows nothing of the domain.
type metricsObserver struct {
	e *metrics.Emitter
}

var _ httpapi.Observer = metricsObserver{}

// ObserveWebhook records one request.
func (w metricsObserver) ObserveWebhook(outcome httpapi.Outcome, eventType string, status int, d time.Duration) {
	ms := []metrics.Metric{{Name: HandlerLatency, Unit: metrics.Milliseconds, Value: float64(d.Microseconds()) / 1000}}
	if name := webhookOutcomeMetric[outcome]; name != "" {
		ms = append(ms, metrics.Metric{Name: name, Unit: metrics.Count, Value: 1})
	}
	props := map[string]any{"outcome": outcome, "status": status}
	if eventType != "" {
		ms = append(ms, metrics.Metric{Name: Received, Unit: metrics.Count, Value: 1})
		// A property, not a dimension: every metric of the line times every
		// event type was most of the product's CloudWatch bill; the
		// dashboard counts by type from the log (Logs Insights).
		props["eventType"] = eventType
	}
	w.e.Emit(nil, props, ms...)
}

// ObserveBadSecrets records a load of the signing secrets that left a
// malformed one out.
func (w metricsObserver) ObserveBadSecrets() {
	w.e.Emit(nil, nil, metrics.Metric{Name: BadSecrets, Unit: metrics.Count, Value: 1})
}
