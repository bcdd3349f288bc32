// Package alerts turns a notable stream event into an SNS message: which
// topic it goes to (routing is configuration, not code), how it reads by
// email, by SMS and as JSON, and the message attributes subscribers filter
// on.
//
// An alert is built from the stored record's fields only, never from the
// payload, so no credential FastPix sent can reach a subscriber.
package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// ErrBadRoutes: the routing configuration is not a JSON object of event
// type → topic ARN.
var ErrBadRoutes = errors.New("alerts: bad routes")

// Routes maps an event type to the ARN of the SNS topic its alerts go to.
// A type that is not in the map is not notable. Adding a class of alert
// (e.g. "video.live_stream.idle") is a configuration change: add an entry.
type Routes map[string]string

// ParseRoutes reads routes from their configuration text, a JSON object
// such as {"video.live_stream.active":"arn:aws:sns:…:StreamLive"}. Empty
// text means no routes (nothing is notable).
func ParseRoutes(text string) (Routes, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Routes{}, nil
	}
	var raw map[string]string
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("%w: want a JSON object of event type to topic ARN: %v", ErrBadRoutes, err)
	}
	routes := make(Routes, len(raw))
	for typ, arn := range raw {
		typ, arn = strings.TrimSpace(typ), strings.TrimSpace(arn)
		if typ == "" {
			return nil, fmt.Errorf("%w: empty event type", ErrBadRoutes)
		}
		if !strings.HasPrefix(arn, "arn:") || strings.Count(arn, ":") < 5 {
			return nil, fmt.Errorf("%w: %s: %q is not a topic ARN", ErrBadRoutes, typ, arn)
		}
		routes[typ] = arn
	}
	return routes, nil
}

// Topic returns the topic ARN for eventType, and whether the type is
// notable at all.
func (r Routes) Topic(eventType string) (string, bool) {
	arn, ok := r[eventType]
	return arn, ok
}

// TopicOf is where an alert the rules decided goes: the route of the
// event type it stands for (a live or recovery alert: the active's; a
// disconnected or unstable one: the disconnect's; a simulcast target's:
// eventType's own, either spelling). The notifier sends by it and
// fastpixctl subscribe chooses topics by it, so the two cannot disagree.
func (r Routes) TopicOf(kind alertrules.Kind, eventType string) (string, bool) {
	switch kind {
	case alertrules.KindLive, alertrules.KindRecovery:
		return r.Topic(fastpix.TypeLiveStreamActive)
	case alertrules.KindSimulcast:
		return r.Topic(eventType)
	}
	return r.Topic(fastpix.TypeLiveStreamDisconnected)
}

// Types lists the routed event types, sorted (for logs).
func (r Routes) Types() []string {
	types := make([]string, 0, len(r))
	for t := range r {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}
