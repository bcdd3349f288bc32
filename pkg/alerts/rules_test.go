package alerts_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
)

var ruleAt = time.Date(2024, 4, 2, 11, 21, 2, 722812836, time.UTC)

// ruleAlerts are one decided alert of each kind.
func ruleAlerts() map[alertrules.Kind]alertrules.Alert {
	return map[alertrules.Kind]alertrules.Alert{
		alertrules.KindLive: {Kind: alertrules.KindLive, EventID: "e-live", OccurredAt: ruleAt,
			PreviousStatus: "connected", Status: "active"},
		alertrules.KindDisconnected: {Kind: alertrules.KindDisconnected, EventID: "e-down", OccurredAt: ruleAt,
			PreviousStatus: "active", Status: "disconnected", LiveFor: time.Hour + 2*time.Minute + 3*time.Second, Grace: 30 * time.Second},
		alertrules.KindRecovery: {Kind: alertrules.KindRecovery, EventID: "e-back", OccurredAt: ruleAt,
			PreviousStatus: "connected", Status: "active", DownFor: 4*time.Minute + 10*time.Second},
		alertrules.KindUnstable: {Kind: alertrules.KindUnstable, EventID: "e-flap", OccurredAt: ruleAt,
			PreviousStatus: "disconnected", Status: "active", Drops: 3, Window: 10 * time.Minute},
	}
}

func base(ws string, test bool) alerts.Alert {
	return alerts.Alert{
		EventID: "e-base", Type: "video.live_stream.idle", StreamID: longStream, SimulcastID: "stray",
		WorkspaceID: longWS, WorkspaceName: ws, Status: "idle", OccurredAt: "2020-01-01T00:00:00Z", Test: test,
	}
}

func TestRenderRuleSMS(t *testing.T) {
	want := map[alertrules.Kind]string{
		alertrules.KindLive:         "LIVE: stream a2ae..8481 (Development) active 11:21 UTC",
		alertrules.KindDisconnected: "DISCONNECTED: stream a2ae..8481 (Development) disconnected 11:21 UTC after 1h2m live",
		alertrules.KindRecovery:     "LIVE again: stream a2ae..8481 back after 4m10s (Development) 11:21 UTC",
		alertrules.KindUnstable:     "UNSTABLE: stream a2ae..8481 dropped 3 times in 10 min (Development) 11:21 UTC",
	}
	wantSubject := map[alertrules.Kind]string{
		alertrules.KindLive:         "LIVE: stream a2ae..8481 (Development) active",
		alertrules.KindDisconnected: "DISCONNECTED: stream a2ae..8481 (Development) disconnected after 1h2m live",
		alertrules.KindRecovery:     "LIVE again: stream a2ae..8481 back after 4m10s (Development)",
		alertrules.KindUnstable:     "UNSTABLE: stream a2ae..8481 dropped 3 times in 10 min (Development)",
	}
	for kind, r := range ruleAlerts() {
		m := alerts.Render(alerts.FromRule(base("Development", false), r))
		if m.SMS != want[kind] {
			t.Errorf("%s: SMS = %q, want %q", kind, m.SMS, want[kind])
		}
		if m.Subject != wantSubject[kind] {
			t.Errorf("%s: subject = %q, want %q", kind, m.Subject, wantSubject[kind])
		}
		tm := alerts.Render(alerts.FromRule(base("Development", true), r))
		if tm.SMS != "(TEST) "+want[kind] {
			t.Errorf("%s, test stream: SMS = %q", kind, tm.SMS)
		}
	}
}

// Whatever the workspace's name and the durations, an SMS stays one GSM-7
// line of at most 140 characters and keeps what it is about.
func TestRenderRuleSMSBounds(t *testing.T) {
	long := strings.Repeat("Très long espace de travail {prod} ~ ", 6) + "\n€[]"
	for kind, r := range ruleAlerts() {
		r.LiveFor, r.DownFor, r.Window, r.Drops = 400*time.Hour, 900*time.Hour, 1441*time.Minute, 50
		for _, ws := range []string{"", long, "日本語のワークスペース"} {
			m := alerts.Render(alerts.FromRule(base(ws, true), r))
			if n := utf8.RuneCountInString(m.SMS); n == 0 || n > alerts.MaxSMS {
				t.Errorf("%s: SMS has %d characters: %q", kind, n, m.SMS)
			}
			for _, c := range m.SMS {
				if !alerts.IsGSM7Basic(c) {
					t.Errorf("%s: SMS has %q: %q", kind, c, m.SMS)
				}
			}
			if !strings.Contains(m.SMS, "a2ae..8481") {
				t.Errorf("%s: SMS lacks the stream: %q", kind, m.SMS)
			}
			if len(m.Subject) == 0 || len(m.Subject) > alerts.MaxSubject {
				t.Errorf("%s: subject has %d bytes", kind, len(m.Subject))
			}
		}
	}
}

func TestRenderRuleDefault(t *testing.T) {
	type body struct {
		EventID          string          `json:"eventId"`
		Type             string          `json:"type"`
		StreamID         string          `json:"streamId"`
		SimulcastTarget  string          `json:"simulcastTargetId"`
		Status           string          `json:"status"`
		OccurredAt       string          `json:"occurredAt"`
		Alert            string          `json:"alert"`
		PreviousStatus   string          `json:"previousStatus"`
		LiveFor          int64           `json:"liveForSeconds"`
		Grace            int64           `json:"graceSeconds"`
		DownFor          int64           `json:"downForSeconds"`
		Drops            int             `json:"drops"`
		Window           int64           `json:"windowSeconds"`
		SimulcastTargets []alerts.Target `json:"simulcastTargets"`
	}
	const occurred = "2024-04-02T11:21:02.722812836Z"
	want := map[alertrules.Kind]body{
		alertrules.KindLive: {EventID: "e-live", Type: "video.live_stream.active", Status: "active", Alert: "live",
			PreviousStatus: "connected", SimulcastTargets: []alerts.Target{{ID: "t-1", Status: "broadcasting"}, {ID: "t-2", Status: "starting"}}},
		alertrules.KindDisconnected: {EventID: "e-down", Type: "video.live_stream.disconnected", Status: "disconnected", Alert: "disconnected",
			PreviousStatus: "active", LiveFor: 3723, Grace: 30},
		alertrules.KindRecovery: {EventID: "e-back", Type: "video.live_stream.active", Status: "active", Alert: "recovery",
			PreviousStatus: "connected", DownFor: 250},
		alertrules.KindUnstable: {EventID: "e-flap", Type: "video.live_stream.active", Status: "active", Alert: "unstable",
			PreviousStatus: "disconnected", Drops: 3, Window: 600},
	}
	for kind, r := range ruleAlerts() {
		a := alerts.FromRule(base("Development", false), r)
		if kind == alertrules.KindLive {
			a.SimulcastTargets = []alerts.Target{{ID: "t-1", Status: "broadcasting"}, {ID: "t-2", Status: "starting"}}
		}
		m := alerts.Render(a)
		var got body
		if err := json.Unmarshal([]byte(m.Default), &got); err != nil {
			t.Fatalf("%s: %v: %s", kind, err, m.Default)
		}
		w := want[kind]
		w.StreamID, w.OccurredAt = longStream, occurred
		if len(got.SimulcastTargets) != len(w.SimulcastTargets) {
			t.Errorf("%s: targets %v, want %v", kind, got.SimulcastTargets, w.SimulcastTargets)
		}
		for i := range w.SimulcastTargets {
			if got.SimulcastTargets[i] != w.SimulcastTargets[i] {
				t.Errorf("%s: target %d = %v, want %v", kind, i, got.SimulcastTargets[i], w.SimulcastTargets[i])
			}
		}
		got.SimulcastTargets, w.SimulcastTargets = nil, nil
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: default = %+v\nwant %+v", kind, got, w)
		}
		if m.Attributes[alerts.AttrAlert] != string(kind) || m.Attributes[alerts.AttrEventType] != w.Type {
			t.Errorf("%s: attributes %v", kind, m.Attributes)
		}
	}
	// An event alerted as it is has no alert kind, and no attribute for it.
	m := alerts.Render(alerts.FromRecord(records()[2], "broadcasting"))
	if strings.Contains(m.Default, `"alert"`) || strings.Contains(m.Default, "previousStatus") {
		t.Errorf("plain alert's default = %s", m.Default)
	}
	if _, ok := m.Attributes[alerts.AttrAlert]; ok {
		t.Errorf("plain alert has the %s attribute", alerts.AttrAlert)
	}
}

func TestRenderRuleEmail(t *testing.T) {
	want := map[alertrules.Kind][]string{
		alertrules.KindLive: {"Stream " + longStream + " is live.", "connected -> active",
			"Targets:          t-1 (broadcasting), t-2 (starting)"},
		alertrules.KindDisconnected: {"Stream " + longStream + " disconnected: its encoder stopped sending, after 1h2m live, and did not reconnect within 30s.",
			"Live for:         1h2m", "active -> disconnected"},
		alertrules.KindRecovery: {"Stream " + longStream + " is live again, back after 4m10s.", "Down for:         4m10s"},
		alertrules.KindUnstable: {"Stream " + longStream + " is unstable: it dropped 3 times in 10 min.",
			"Brief drops:      3 times in 10 min", "shorter than the grace"},
	}
	for kind, r := range ruleAlerts() {
		a := alerts.FromRule(base("Development", false), r)
		if kind == alertrules.KindLive {
			a.SimulcastTargets = []alerts.Target{{ID: "t-1", Status: "broadcasting"}, {ID: "t-2", Status: "starting"}}
		}
		email := alerts.Render(a).Email
		for _, w := range append(want[kind], "Tuesday 2 April 2024, 11:21:02 UTC", r.EventID) {
			if !strings.Contains(email, w) {
				t.Errorf("%s: email lacks %q:\n%s", kind, w, email)
			}
		}
		if strings.Contains(email, "stray") {
			t.Errorf("%s: email names the base's simulcast target:\n%s", kind, email)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0:                              "0s",
		-time.Second:                   "0s",
		999 * time.Millisecond:         "0s",
		45 * time.Second:               "45s",
		4*time.Minute + 10*time.Second: "4m10s",
		4 * time.Minute:                "4m",
		time.Hour:                      "1h",
		time.Hour + 2*time.Minute + 3*time.Second: "1h2m",
		26*time.Hour + 5*time.Minute:              "26h5m",
	}
	for d, want := range tests {
		if got := alerts.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
