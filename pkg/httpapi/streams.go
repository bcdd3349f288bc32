package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// The query routes, as API Gateway names them in RouteKey.
const (
	RouteStream       = "GET /streams/{streamId}"
	RouteStreamEvents = "GET /streams/{streamId}/events"
)

// Streams handles the query routes: a stream's state, and its events from
// the byStream index, page by page; and the fleet by status.
type Streams struct {
	Events eventstore.StreamReader
	State  streamstate.Reader
	Fleet  streamstate.Lister
	// Logger gets one line per request (slog.Default() when nil).
	Logger *slog.Logger
}

// StreamEvent is one event as the query API shows it. Payload is the
// redacted event as stored: credentials never reach the table, so none can
// leave through here.
type StreamEvent struct {
	EventID     string          `json:"eventId"`
	Type        string          `json:"type"`
	OccurredAt  string          `json:"occurredAt"`
	ReceivedAt  string          `json:"receivedAt,omitempty"`
	SimulcastID string          `json:"simulcastId,omitempty"`
	Test        bool            `json:"test,omitempty"`
	Payload     json.RawMessage `json:"payload"`
}

// EventsPage is the answer of GET /streams/{streamId}/events.
type EventsPage struct {
	StreamID   string        `json:"streamId"`
	Events     []StreamEvent `json:"events"`
	NextCursor string        `json:"nextCursor,omitempty"`
}

type queryError struct {
	Error string `json:"error"`
}

// errUnknownStream: neither a state nor any event is stored for the stream.
var errUnknownStream = errors.New("unknown stream")

// Handle is the Lambda handler.
func (h *Streams) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	route, streamID := streamsRoute(req)
	status, body, err := h.handle(ctx, req, route, streamID)

	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	attrs := []slog.Attr{
		slog.String("requestId", req.RequestContext.RequestID),
		slog.String("route", route),
		slog.String("streamId", streamID),
		slog.Int("status", status),
		slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000),
	}
	level := slog.LevelInfo
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
		if status >= 500 {
			level = slog.LevelError
		}
	}
	log.LogAttrs(ctx, level, "streams", attrs...)

	resp := jsonResponse(status, body)
	if status == http.StatusMethodNotAllowed {
		resp.Headers["Allow"] = http.MethodGet
	}
	return resp, nil
}

// streamsRoute names the route and the stream. API Gateway gives both
// (RouteKey, path parameters); a catch-all route ($default) gets them from
// the path instead.
func streamsRoute(req events.APIGatewayV2HTTPRequest) (route, streamID string) {
	streamID = req.PathParameters["streamId"]
	switch req.RouteKey {
	case RouteStream, RouteStreamEvents, RouteFleet:
		return req.RouteKey, streamID
	}
	parts := strings.Split(strings.Trim(req.RawPath, "/"), "/")
	method := req.RequestContext.HTTP.Method
	switch {
	case len(parts) == 1 && parts[0] == "streams":
		return method + " /streams", ""
	case len(parts) == 2 && parts[0] == "streams" && parts[1] != "":
		return method + " /streams/{streamId}", parts[1]
	case len(parts) == 3 && parts[0] == "streams" && parts[1] != "" && parts[2] == "events":
		return method + " /streams/{streamId}/events", parts[1]
	}
	return req.RouteKey, streamID
}

func (h *Streams) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest, route, streamID string) (int, any, error) {
	if m := req.RequestContext.HTTP.Method; m != "" && m != http.MethodGet {
		return http.StatusMethodNotAllowed, queryError{"method not allowed: use GET"}, nil
	}
	if route == RouteFleet {
		return h.fleet(ctx, req.QueryStringParameters)
	}
	if streamID == "" {
		return http.StatusNotFound, queryError{"no such route"}, fmt.Errorf("route %q", route)
	}
	// Refused before any read: DynamoDB would answer a key over its limit
	// with a validation error, which is the caller's mistake, not an outage.
	switch {
	case len(streamID) > eventstore.MaxKeyBytes:
		return badRequest(fmt.Errorf("stream id is %d bytes; stream ids are at most %d", len(streamID), eventstore.MaxKeyBytes))
	case strings.Contains(streamID, "/"):
		return badRequest(errors.New("a stream id containing '/' cannot be asked for by path (FastPix's never contain one); read it from the events table"))
	}
	switch {
	case strings.HasSuffix(route, "/events"):
		return h.events(ctx, streamID, req.QueryStringParameters)
	case strings.HasSuffix(route, "/streams/{streamId}"):
		return h.state(ctx, streamID)
	}
	return http.StatusNotFound, queryError{"no such route"}, fmt.Errorf("route %q", route)
}

// state answers GET /streams/{streamId}. A stream whose events are stored
// but not yet applied by the notifier (or whose events carry no status) is
// known: it answers with an empty state rather than 404.
func (h *Streams) state(ctx context.Context, streamID string) (int, any, error) {
	st, err := h.State.Get(ctx, streamID)
	switch {
	case err == nil:
		if st.SimulcastTargets == nil {
			st.SimulcastTargets = map[string]streamstate.Target{}
		}
		return http.StatusOK, st, nil
	case !errors.Is(err, streamstate.ErrNotFound):
		return unavailable(err)
	}
	p, err := h.Events.StreamEvents(ctx, eventstore.StreamQuery{StreamID: streamID, Limit: 1})
	if err != nil {
		return unavailable(err)
	}
	if len(p.Records) == 0 {
		return http.StatusNotFound, queryError{"unknown stream " + streamID}, errUnknownStream
	}
	return http.StatusOK, streamstate.State{StreamID: streamID, SimulcastTargets: map[string]streamstate.Target{}}, nil
}

// events answers GET /streams/{streamId}/events?limit=&cursor=&type=&order=.
func (h *Streams) events(ctx context.Context, streamID string, params map[string]string) (int, any, error) {
	q := eventstore.StreamQuery{StreamID: streamID, Cursor: params["cursor"]}
	if s, ok := params["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > eventstore.MaxLimit {
			return badRequest(fmt.Errorf("limit must be a whole number from 1 to %d", eventstore.MaxLimit))
		}
		q.Limit = n
	}
	switch order := params["order"]; order {
	case "", "desc":
	case "asc":
		q.Ascending = true
	default:
		return badRequest(fmt.Errorf("order must be asc or desc, not %q", order))
	}
	// API Gateway joins a repeated parameter's values with commas, so
	// type=a&type=b and type=a,b both mean either type.
	if s := params["type"]; s != "" {
		for t := range strings.SplitSeq(s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				q.Types = append(q.Types, t)
			}
		}
	}
	p, err := h.Events.StreamEvents(ctx, q)
	switch {
	case errors.Is(err, eventstore.ErrBadCursor):
		return badRequest(errors.New("bad cursor: pass back the nextCursor of a previous answer for the same stream and order"))
	case errors.Is(err, eventstore.ErrBadQuery):
		// The caller reads the reason, not the package that found it.
		return badRequest(errors.New(strings.TrimPrefix(err.Error(), eventstore.ErrBadQuery.Error()+": ")))
	case err != nil:
		return unavailable(err)
	}
	if len(p.Records) == 0 && q.Cursor == "" {
		// An empty first page: an unknown stream, or no event of the
		// asked types.
		known, err := h.known(ctx, streamID, len(q.Types) > 0)
		if err != nil {
			return unavailable(err)
		}
		if !known {
			return http.StatusNotFound, queryError{"unknown stream " + streamID}, errUnknownStream
		}
	}
	page := EventsPage{StreamID: streamID, Events: make([]StreamEvent, 0, len(p.Records)), NextCursor: p.NextCursor}
	for _, r := range p.Records {
		page.Events = append(page.Events, StreamEvent{
			EventID:     r.EventID,
			Type:        r.Type,
			OccurredAt:  r.OccurredAt,
			ReceivedAt:  r.ReceivedAt,
			SimulcastID: r.SimulcastID,
			Test:        r.Test,
			Payload:     payloadJSON(r.Payload),
		})
	}
	return http.StatusOK, page, nil
}

// known reports whether anything is stored about the stream: a state, or
// (when the listing was filtered) an event of any type.
func (h *Streams) known(ctx context.Context, streamID string, filtered bool) (bool, error) {
	_, err := h.State.Get(ctx, streamID)
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, streamstate.ErrNotFound):
		return false, err
	case !filtered:
		return false, nil
	}
	p, err := h.Events.StreamEvents(ctx, eventstore.StreamQuery{StreamID: streamID, Limit: 1})
	if err != nil {
		return false, err
	}
	return len(p.Records) > 0, nil
}

// payloadJSON embeds the stored payload as JSON; the webhook stores only
// JSON objects, so anything else is an item written by hand, shown as a
// string rather than breaking the answer.
func payloadJSON(s string) json.RawMessage {
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

func badRequest(err error) (int, any, error) {
	return http.StatusBadRequest, queryError{err.Error()}, err
}

func unavailable(err error) (int, any, error) {
	return http.StatusServiceUnavailable, queryError{"store unavailable; retry later"}, err
}
