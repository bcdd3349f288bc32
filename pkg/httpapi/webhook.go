// Package httpapi adapts API Gateway HTTP API requests (payload format 2.0)
// to the domain: the FastPix webhook route and the query routes. It is the
// only layer of the HTTP side that knows Lambda's event types.
package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
)

// MaxBodyBytes is the largest body the webhook accepts. FastPix's events are
// a few kilobytes; anything near this is not one of them.
const MaxBodyBytes = 1 << 20

// Receiver is what the webhook route hands deliveries to.
type Receiver interface {
	Receive(ctx context.Context, body []byte, signature string) (ingest.Result, error)
}

// Webhook handles POST /webhooks/fastpix.
type Webhook struct {
	Receiver Receiver
	// Logger gets one line per request (slog.Default() when nil).
	Logger *slog.Logger
	// Observer, when set, is told of every request once it is answered.
	Observer Observer
}

// Observer sees each webhook request's outcome, for metrics. eventType is
// "" when the request carried no readable event.
type Observer interface {
	ObserveWebhook(outcome Outcome, eventType string, status int, d time.Duration)
}

// Outcome is what became of one webhook request, as logged (the "outcome"
// field) and observed. Metrics map each to the metric that counts it, by
// these constants: a new outcome must be added to Outcomes, whose test
// (in internal/app/webhook) fails until a metric counts it.
type Outcome string

// Outcomes of a webhook request.
const (
	OutcomeAccepted      Outcome = "accepted"
	OutcomeDuplicate     Outcome = "duplicate"
	OutcomeProbe         Outcome = "probe"
	OutcomeUnauthorized  Outcome = "unauthorized"
	OutcomeMalformed     Outcome = "malformed"
	OutcomeTooLarge      Outcome = "too_large"
	OutcomeMethod        Outcome = "method"
	OutcomeNotConfigured Outcome = "not_configured"
	OutcomeUnavailable   Outcome = "unavailable"
)

// Outcomes lists every Outcome the handler reports.
func Outcomes() []Outcome {
	return []Outcome{OutcomeAccepted, OutcomeDuplicate, OutcomeProbe, OutcomeUnauthorized, OutcomeMalformed,
		OutcomeTooLarge, OutcomeMethod, OutcomeNotConfigured, OutcomeUnavailable}
}

// MethodNotAllowedMessage answers any method but POST. The route takes
// every method so that a person who opens the URL in a browser learns it is
// the right one, rather than reading API Gateway's "Not Found".
const MethodNotAllowedMessage = "this is the FastPix webhook endpoint: it takes POST requests signed by FastPix (FastPix-Signature header)"

type answer struct {
	Status  string `json:"status"`
	EventID string `json:"eventId,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Handle is the Lambda handler.
func (h *Webhook) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	status, outcome, ans, res, err := h.handle(ctx, req)
	elapsed := time.Since(start)

	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	attrs := []slog.Attr{
		slog.String("requestId", req.RequestContext.RequestID),
		slog.String("outcome", string(outcome)),
		slog.Int("status", status),
		slog.Float64("durationMs", float64(elapsed.Microseconds())/1000),
	}
	if res.EventID != "" {
		attrs = append(attrs, slog.String("eventId", res.EventID), slog.String("type", res.Type))
	}
	if res.StreamID != "" {
		attrs = append(attrs, slog.String("streamId", res.StreamID))
	}
	if res.ClockSkewed {
		// Ordered in its stream's log by our receive time: FastPix's
		// createdAt was further ahead of it than the tolerance.
		attrs = append(attrs, slog.Bool("clockSkewed", true))
	}
	level := slog.LevelInfo
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
		level = slog.LevelWarn
		// A 5xx is ours to fix; so is a signed event we could not keep,
		// which FastPix will not send again.
		if status >= 500 || errors.Is(err, eventstore.ErrUnstorable) {
			level = slog.LevelError
		}
	}
	log.LogAttrs(ctx, level, "webhook", attrs...)
	if h.Observer != nil {
		h.Observer.ObserveWebhook(outcome, res.Type, status, elapsed)
	}

	resp := jsonResponse(status, ans)
	if status == http.StatusMethodNotAllowed {
		resp.Headers["Allow"] = http.MethodPost
	}
	return resp, nil
}

func (h *Webhook) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (int, Outcome, answer, ingest.Result, error) {
	var res ingest.Result
	if m := req.RequestContext.HTTP.Method; m != http.MethodPost {
		return http.StatusMethodNotAllowed, OutcomeMethod, answer{Status: "rejected", Error: MethodNotAllowedMessage}, res, nil
	}
	body, status, err := rawBody(req)
	if err != nil {
		outcome := OutcomeMalformed
		if status == http.StatusRequestEntityTooLarge {
			outcome = OutcomeTooLarge
		}
		return status, outcome, answer{Status: "rejected", Error: err.Error()}, res, err
	}
	res, err = h.Receiver.Receive(ctx, body, Header(req.Headers, fastpix.SignatureHeader))
	switch {
	case err == nil && res.Outcome == ingest.Probe:
		return http.StatusOK, OutcomeProbe, answer{Status: "ok"}, res, nil
	case err == nil && res.Outcome == ingest.Duplicate:
		return http.StatusOK, OutcomeDuplicate, answer{Status: string(res.Outcome), EventID: res.EventID}, res, nil
	case err == nil:
		return http.StatusOK, OutcomeAccepted, answer{Status: string(res.Outcome), EventID: res.EventID}, res, nil
	case errors.Is(err, ingest.ErrUnauthorized):
		msg := "invalid signature"
		if errors.Is(err, fastpix.ErrMissingSignature) {
			msg = "missing signature"
		}
		return http.StatusUnauthorized, OutcomeUnauthorized, answer{Status: "rejected", Error: msg}, res, err
	case errors.Is(err, ingest.ErrMalformed):
		return http.StatusBadRequest, OutcomeMalformed, answer{Status: "rejected", Error: malformedMessage(err)}, res, err
	case errors.Is(err, ingest.ErrNotConfigured):
		return http.StatusInternalServerError, OutcomeNotConfigured, answer{Status: "error", Error: "receiver not configured; retry later"}, res, err
	default:
		// ErrUnavailable, or anything unforeseen: the event is not durable,
		// and a retry can help.
		return http.StatusServiceUnavailable, OutcomeUnavailable, answer{Status: "error", EventID: res.EventID, Error: "event not stored; retry later"}, res, err
	}
}

func malformedMessage(err error) string {
	switch {
	case errors.Is(err, fastpix.ErrMissingID):
		return "event id missing, empty or not a string"
	case errors.Is(err, fastpix.ErrMissingType):
		return "event type missing, empty or not a string"
	case errors.Is(err, eventstore.ErrUnstorable):
		return "event too large to store"
	default:
		return "body is not a JSON object"
	}
}

var (
	errTooLarge  = errors.New("body larger than 1 MiB")
	errBadBase64 = errors.New("body flagged base64 is not base64")
)

// rawBody returns the body's bytes as the sender sent them: API Gateway
// passes binary or non-UTF-8 bodies base64-encoded.
func rawBody(req events.APIGatewayV2HTTPRequest) ([]byte, int, error) {
	if !req.IsBase64Encoded {
		if len(req.Body) > MaxBodyBytes {
			return nil, http.StatusRequestEntityTooLarge, errTooLarge
		}
		return []byte(req.Body), 0, nil
	}
	if base64.StdEncoding.DecodedLen(len(req.Body)) > MaxBodyBytes+3 {
		return nil, http.StatusRequestEntityTooLarge, errTooLarge
	}
	body, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, http.StatusBadRequest, errBadBase64
	}
	if len(body) > MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, errTooLarge
	}
	return body, 0, nil
}

// Header returns the value of the header name, whatever its case in headers.
func Header(headers map[string]string, name string) string {
	if v, ok := headers[name]; ok {
		return v
	}
	if v, ok := headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func jsonResponse(status int, v any) events.APIGatewayV2HTTPResponse {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"status":"error"}`)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}
