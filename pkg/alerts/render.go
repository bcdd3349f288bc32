package alerts

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// Limits of the renderings.
const (
	// MaxSMS is the most characters an SMS rendering has: one GSM-7 message
	// (160 septets) with room for the "sender name" prefix some carriers add.
	MaxSMS = 140
	// MaxSubject bounds the Subject; SNS refuses 100 or more.
	MaxSubject = 99
)

// Message attribute names, for subscription filter policies.
const (
	AttrEventType   = "eventType"
	AttrStreamID    = "streamId"
	AttrWorkspaceID = "workspaceId"
	AttrTest        = "test"
	// AttrAlert is the kind of a lifecycle alert the rules decided (live,
	// recovery, disconnected, unstable); absent on other alerts.
	AttrAlert = "alert"
	// AttrKind is what a person subscribes to: one of Kinds, on every alert
	// of a stream's lifecycle or a simulcast target (see KindOf).
	AttrKind = "kind"
)

// The alert kinds a subscription chooses among (the values of AttrKind).
// They name what a person wants to hear about; the rules' own names
// (alertrules.Kind, the "alert" attribute) stay as they are for programs.
const (
	KindLive         = "live"
	KindDisconnected = "disconnected"
	KindRecovered    = "recovered"
	KindUnstable     = "unstable"
	KindSimulcast    = "simulcast"
)

// Kinds are the values of AttrKind, in the order people read them.
var Kinds = []string{KindLive, KindDisconnected, KindRecovered, KindUnstable, KindSimulcast}

// KindOf is the AttrKind of an alert: the rules' decision when there is
// one, else what its event type says (any simulcast event is "simulcast").
// It is "" for an event type routed by configuration that is none of
// these (such an alert reaches only subscriptions that do not select by
// kind).
func KindOf(a Alert) string {
	switch a.Kind {
	case alertrules.KindLive:
		return KindLive
	case alertrules.KindRecovery:
		return KindRecovered
	case alertrules.KindDisconnected:
		return KindDisconnected
	case alertrules.KindUnstable:
		return KindUnstable
	case alertrules.KindSimulcast:
		return KindSimulcast
	}
	switch {
	case fastpix.IsSimulcast(a.Type):
		return KindSimulcast
	case a.Type == fastpix.TypeLiveStreamActive:
		return KindLive
	case a.Type == fastpix.TypeLiveStreamDisconnected:
		return KindDisconnected
	}
	return ""
}

// Alert is what an alert says, taken from a stored record's fields.
type Alert struct {
	EventID       string
	Type          string
	StreamID      string
	SimulcastID   string
	WorkspaceID   string
	WorkspaceName string
	// Status is the stream's status after the event, or the simulcast
	// target's for simulcast events.
	Status     string
	OccurredAt string // eventstore.TimeLayout (RFC 3339)
	Test       bool

	// Kind is set on a stream's lifecycle alerts, as pkg/alertrules decided
	// them (FromRule); empty on an event alerted as it is (simulcast
	// targets, types routed by configuration only).
	Kind alertrules.Kind
	// PreviousStatus is the stream's status before the transition.
	PreviousStatus string
	// LiveFor (disconnected): how long the stream had been live; Grace: how
	// long the disconnect was held before it was alerted.
	LiveFor, Grace time.Duration
	// DownFor (recovery): from the alerted disconnect to the active.
	DownFor time.Duration
	// Drops within Window (unstable).
	Drops  int
	Window time.Duration
	// SimulcastTargets (live, recovery) are the stream's simulcast targets
	// the state knows, by id.
	SimulcastTargets []Target
}

// Target is a simulcast target named in a live alert.
type Target struct {
	ID     string `json:"id"`
	Status string `json:"status,omitempty"`
}

// FromRule is the alert of a rules' decision r about base's stream: base
// gives the stream, workspace and test flag (FromRecord of any event of the
// stream), r what happened. The event type is the one r is about (the
// reconnection's for an unstable alert).
func FromRule(base Alert, r alertrules.Alert) Alert {
	a := base
	a.Kind = r.Kind
	a.EventID = r.EventID
	a.OccurredAt = eventstore.FormatTime(r.OccurredAt)
	a.Status = r.Status
	if r.Kind != alertrules.KindSimulcast {
		// A stream's alert: of the stream's status, whatever event decided
		// it (a settled hold has none of its own).
		a.Type = "video.live_stream." + r.Status
		a.SimulcastID = ""
	}
	a.PreviousStatus = r.PreviousStatus
	a.LiveFor, a.Grace, a.DownFor = r.LiveFor, r.Grace, r.DownFor
	a.Drops, a.Window = r.Drops, r.Window
	return a
}

// FromRecord builds the alert of a stored record whose resulting status is
// status. It reads no payload: only the record's own fields.
func FromRecord(r eventstore.Record, status string) Alert {
	return Alert{
		EventID:       r.EventID,
		Type:          r.Type,
		StreamID:      r.StreamID,
		SimulcastID:   r.SimulcastID,
		WorkspaceID:   r.WorkspaceID,
		WorkspaceName: r.WorkspaceName,
		Status:        status,
		OccurredAt:    r.OccurredAt,
		Test:          r.Test,
	}
}

// Message is one alert rendered for SNS: a rendering per protocol, a
// subject for email, and string attributes for filtering.
type Message struct {
	// Default is compact JSON, for every protocol without its own rendering
	// (SQS, Lambda, HTTP, email-json).
	Default string
	// Email is readable text.
	Email string
	// SMS is one line of GSM-7 basic characters, at most MaxSMS long.
	SMS string
	// Chat is the chat integration's custom notification (JSON), what
	// https subscribers get (see ChatRendering); empty on messages that
	// are no alert.
	Chat string
	// Subject is printable ASCII, at most MaxSubject long.
	Subject string
	// Attributes are the String message attributes; empty values are left
	// out (SNS refuses them).
	Attributes map[string]string
}

// defaultBody is the JSON of the default rendering.
type defaultBody struct {
	EventID           string    `json:"eventId"`
	Type              string    `json:"type"`
	StreamID          string    `json:"streamId,omitempty"`
	SimulcastTargetID string    `json:"simulcastTargetId,omitempty"`
	Workspace         Workspace `json:"workspace"`
	Status            string    `json:"status"`
	OccurredAt        string    `json:"occurredAt"`
	Test              bool      `json:"test"`
	// The facts of a lifecycle alert, for programs: the same as people read.
	Alert            alertrules.Kind `json:"alert,omitempty"`
	PreviousStatus   string          `json:"previousStatus,omitempty"`
	LiveForSeconds   int64           `json:"liveForSeconds,omitempty"`
	GraceSeconds     int64           `json:"graceSeconds,omitempty"`
	DownForSeconds   int64           `json:"downForSeconds,omitempty"`
	Drops            int             `json:"drops,omitempty"`
	WindowSeconds    int64           `json:"windowSeconds,omitempty"`
	SimulcastTargets []Target        `json:"simulcastTargets,omitempty"`
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// Workspace is a FastPix workspace as the JSON renderings (an alert's and
// a change's) name it.
type Workspace struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Render renders a.
func Render(a Alert) Message {
	if a.Status == "" {
		a.Status = fastpix.Action(a.Type)
	}
	def, err := json.Marshal(defaultBody{
		EventID:           a.EventID,
		Type:              a.Type,
		StreamID:          a.StreamID,
		SimulcastTargetID: a.SimulcastID,
		Workspace:         Workspace{ID: a.WorkspaceID, Name: a.WorkspaceName},
		Status:            a.Status,
		OccurredAt:        a.OccurredAt,
		Test:              a.Test,
		Alert:             a.Kind,
		PreviousStatus:    a.PreviousStatus,
		LiveForSeconds:    seconds(a.LiveFor),
		GraceSeconds:      seconds(a.Grace),
		DownForSeconds:    seconds(a.DownFor),
		Drops:             a.Drops,
		WindowSeconds:     seconds(a.Window),
		SimulcastTargets:  a.SimulcastTargets,
	})
	if err != nil {
		// Strings and a bool always marshal; keep a valid document anyway.
		def = []byte(`{"eventId":` + quote(a.EventID) + `}`)
	}
	attrs := map[string]string{AttrTest: fmt.Sprint(a.Test)}
	for name, v := range map[string]string{AttrEventType: a.Type, AttrStreamID: a.StreamID, AttrWorkspaceID: a.WorkspaceID, AttrAlert: string(a.Kind), AttrKind: KindOf(a)} {
		if v != "" {
			attrs[name] = v
		}
	}
	return Message{
		Default:    string(def),
		Email:      email(a),
		SMS:        sms(a),
		Chat:       chatJSON(a),
		Subject:    subject(a),
		Attributes: attrs,
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// tag is the short upper-case word an SMS and a subject start with.
func tag(a Alert) string {
	switch a.Kind {
	case alertrules.KindRecovery:
		return "LIVE again"
	case alertrules.KindUnstable:
		return "UNSTABLE"
	}
	action := fastpix.Action(a.Type)
	if fastpix.IsSimulcast(a.Type) {
		if action == "broadcasting" {
			return "SIMULCAST LIVE"
		}
		return "SIMULCAST " + strings.ToUpper(action)
	}
	switch a.Type {
	case fastpix.TypeLiveStreamActive:
		return "LIVE"
	case fastpix.TypeLiveStreamDisconnected:
		return "DISCONNECTED"
	}
	return strings.ToUpper(action)
}

// headline is the email's first sentence.
func headline(a Alert) string {
	stream := "Stream " + orNone(a.StreamID)
	switch a.Kind {
	case alertrules.KindRecovery:
		return stream + " is live again, back after " + FormatDuration(a.DownFor) + "."
	case alertrules.KindUnstable:
		return stream + " is unstable: it dropped " + dropped(a) + "."
	case alertrules.KindDisconnected:
		h := stream + " disconnected: its encoder stopped sending"
		switch {
		case a.LiveFor > 0 && a.Grace > 0:
			h += ", after " + FormatDuration(a.LiveFor) + " live, and did not reconnect within " + FormatDuration(a.Grace)
		case a.LiveFor > 0:
			h += ", after " + FormatDuration(a.LiveFor) + " live"
		case a.Grace > 0:
			h += ", and did not reconnect within " + FormatDuration(a.Grace)
		}
		return h + "."
	}
	if fastpix.IsSimulcast(a.Type) {
		t := "Simulcast target " + orNone(a.SimulcastID) + " of stream " + orNone(a.StreamID)
		if a.Status == "broadcasting" {
			return t + " is broadcasting."
		}
		return t + " is now " + a.Status + "."
	}
	switch a.Type {
	case fastpix.TypeLiveStreamActive:
		return stream + " is live."
	case fastpix.TypeLiveStreamDisconnected:
		return stream + " disconnected: its encoder stopped sending."
	}
	return stream + " is now " + a.Status + "."
}

func orNone(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

func occurred(a Alert) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, a.OccurredAt)
	return t.UTC(), err == nil
}

func email(a Alert) string {
	var b strings.Builder
	if a.Test {
		b.WriteString("[TEST STREAM] ")
	}
	b.WriteString(OneLine(headline(a)))
	b.WriteString("\n\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-18s%s\n", k+":", OneLine(v))
		}
	}
	what := a.Type + " (status: " + a.Status + ")"
	if a.PreviousStatus != "" {
		what = a.Type + " (status: " + a.PreviousStatus + " -> " + a.Status + ")"
	}
	row("What happened", what)
	when := a.OccurredAt
	if t, ok := occurred(a); ok {
		when = t.Format("Monday 2 January 2006, 15:04:05 UTC")
	}
	row("When", when)
	row("Stream", a.StreamID)
	row("Simulcast target", a.SimulcastID)
	ws := a.WorkspaceName
	switch {
	case ws != "" && a.WorkspaceID != "":
		ws += " (" + a.WorkspaceID + ")"
	case ws == "":
		ws = a.WorkspaceID
	}
	row("Workspace", ws)
	row("Event id", a.EventID)
	if a.LiveFor > 0 {
		row("Live for", FormatDuration(a.LiveFor))
	}
	if a.Kind == alertrules.KindRecovery {
		row("Down for", FormatDuration(a.DownFor))
	}
	if a.Kind == alertrules.KindUnstable {
		row("Brief drops", dropped(a))
	}
	if len(a.SimulcastTargets) > 0 {
		ts := make([]string, 0, len(a.SimulcastTargets))
		for _, t := range a.SimulcastTargets {
			if t.Status != "" {
				ts = append(ts, t.ID+" ("+t.Status+")")
			} else {
				ts = append(ts, t.ID)
			}
		}
		row("Targets", strings.Join(ts, ", "))
	}
	if a.Kind == alertrules.KindUnstable {
		b.WriteString("\nEach drop was shorter than the grace, so none was alerted on its own: the encoder's\nconnection needs a look.\n")
	}
	if a.Test {
		b.WriteString("\nThis event is about a test stream.\n")
	}
	b.WriteString("\nSent by the FastPix webhook receiver.\n")
	return b.String()
}

// OneLine keeps a value on its line: control characters become spaces.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// ShortID shortens a long id to its first and last four characters, with
// two ASCII dots between ("a2ae..8481"): recognisable, and it leaves an SMS
// room for the rest. ("…" would not be GSM-7.)
func ShortID(id string) string {
	r := []rune(id)
	if len(r) <= 12 {
		return id
	}
	return string(r[:4]) + ".." + string(r[len(r)-4:])
}

// summary is the one line an SMS and a subject share, filtered by keep and
// cut to max characters.
func summary(a Alert, withTime bool, keep func(rune) bool, max int) string {
	var b strings.Builder
	if a.Test {
		b.WriteString("(TEST) ")
	}
	b.WriteString(tag(a))
	b.WriteString(": stream ")
	b.WriteString(ShortID(orNone(a.StreamID)))
	if a.SimulcastID != "" {
		b.WriteString(" target ")
		b.WriteString(ShortID(a.SimulcastID))
	}
	// A recovery and an unstable alert say what happened in place of the
	// status word.
	said := true
	switch a.Kind {
	case alertrules.KindRecovery:
		b.WriteString(" back after " + FormatDuration(a.DownFor))
	case alertrules.KindUnstable:
		b.WriteString(" dropped " + dropped(a))
	default:
		said = false
	}
	ws := a.WorkspaceName
	if ws == "" {
		ws = ShortID(a.WorkspaceID)
	}
	if ws != "" {
		b.WriteString(" (")
		b.WriteString(cut(OneLine(ws), 24))
		b.WriteString(")")
	}
	if !said {
		b.WriteString(" ")
		b.WriteString(cut(a.Status, 20))
	}
	if t, ok := occurred(a); ok && withTime {
		b.WriteString(" ")
		b.WriteString(t.Format("15:04"))
		b.WriteString(" UTC")
	}
	if a.Kind == alertrules.KindDisconnected && a.LiveFor > 0 {
		b.WriteString(" after " + FormatDuration(a.LiveFor) + " live")
	}
	out := strings.Map(func(r rune) rune {
		if keep(r) {
			return r
		}
		return '?'
	}, b.String())
	return cut(out, max)
}

// cut shortens s to at most max characters, marking the cut with "..".
func cut(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-2]) + ".."
}

func sms(a Alert) string { return summary(a, true, IsGSM7Basic, MaxSMS) }

func subject(a Alert) string {
	return summary(a, false, func(r rune) bool { return r >= 0x20 && r < 0x7f }, MaxSubject)
}

// gsm7Basic is the GSM 03.38 basic character set, without its three
// control characters (LF, CR, ESC): what an SMS line may hold at one
// septet per character.
const gsm7Basic = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

var gsm7Set = func() map[rune]bool {
	m := make(map[rune]bool, 128)
	for _, r := range gsm7Basic {
		m[r] = true
	}
	return m
}()

// IsGSM7Basic reports whether r is a printable character of the GSM-7
// basic set (one septet; no escape to the extension table).
func IsGSM7Basic(r rune) bool { return gsm7Set[r] }

// dropped is "3 times in 10 min".
func dropped(a Alert) string {
	w := FormatDuration(a.Window)
	if a.Window > 0 && a.Window%time.Minute == 0 {
		w = fmt.Sprintf("%d min", a.Window/time.Minute)
	}
	return fmt.Sprintf("%d times in %s", a.Drops, w)
}

// FormatDuration writes d short, to the second, in GSM-7 and ASCII: "45s",
// "4m10s", "4m", "1h2m" (seconds left out from an hour on).
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Truncate(time.Second)
	h, m, sec := int64(d/time.Hour), int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	case m > 0 && sec > 0:
		return fmt.Sprintf("%dm%ds", m, sec)
	case m > 0:
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%ds", sec)
}
