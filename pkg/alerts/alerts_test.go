package alerts_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// The GSM 03.38 basic set, written out here independently of the package:
// the 128 code points minus LF, CR and ESC (an SMS rendering is one line).
const gsm7 = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

func TestGSM7SetHas125Characters(t *testing.T) {
	if n := utf8.RuneCountInString(gsm7); n != 125 {
		t.Fatalf("test's GSM-7 set has %d characters, want 128-3", n)
	}
	for _, r := range gsm7 {
		if !alerts.IsGSM7Basic(r) {
			t.Errorf("IsGSM7Basic(%q) = false", r)
		}
	}
	for _, r := range "…[]{}|~^\\`€\n\r\x1b—“é\u00a0" {
		if strings.ContainsRune(gsm7, r) != alerts.IsGSM7Basic(r) {
			t.Errorf("IsGSM7Basic(%q) disagrees with the GSM-7 table", r)
		}
	}
}

func TestParseRoutes(t *testing.T) {
	const live = "arn:aws:sns:us-east-1:123456789012:StreamLive"
	tests := []struct {
		name    string
		text    string
		want    alerts.Routes
		wantErr bool
	}{
		{name: "empty", text: "", want: alerts.Routes{}},
		{name: "blank", text: "  \n", want: alerts.Routes{}},
		{name: "one route", text: `{"video.live_stream.active":"` + live + `"}`, want: alerts.Routes{"video.live_stream.active": live}},
		{name: "spaces trimmed", text: `{" video.live_stream.idle ":" ` + live + ` "}`, want: alerts.Routes{"video.live_stream.idle": live}},
		{name: "not JSON", text: `video.live_stream.active=` + live, wantErr: true},
		{name: "array", text: `["` + live + `"]`, wantErr: true},
		{name: "not an ARN", text: `{"video.live_stream.active":"StreamLive"}`, wantErr: true},
		{name: "empty ARN", text: `{"video.live_stream.active":""}`, wantErr: true},
		{name: "empty type", text: `{"":"` + live + `"}`, wantErr: true},
		{name: "number value", text: `{"video.live_stream.active":1}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := alerts.ParseRoutes(tc.text)
			if tc.wantErr {
				if !errors.Is(err, alerts.ErrBadRoutes) {
					t.Fatalf("err = %v, want ErrBadRoutes", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("routes = %v, want %v", got, tc.want)
			}
			for typ, arn := range tc.want {
				if topic, ok := got.Topic(typ); !ok || topic != arn {
					t.Errorf("Topic(%s) = %q, %v; want %q", typ, topic, ok, arn)
				}
			}
		})
	}
}

func TestRoutesTopic(t *testing.T) {
	routes, err := alerts.ParseRoutes(`{
		"video.live_stream.active":"arn:aws:sns:us-east-1:1:Live",
		"video.live_stream.disconnected":"arn:aws:sns:us-east-1:1:Down",
		"video.live_stream.simulcast.broadcasting":"arn:aws:sns:us-east-1:1:Simulcast",
		"video.live_stream.simulcast_target.broadcasting":"arn:aws:sns:us-east-1:1:Simulcast"}`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		typ     string
		want    string
		notable bool
	}{
		{"video.live_stream.active", "arn:aws:sns:us-east-1:1:Live", true},
		{"video.live_stream.disconnected", "arn:aws:sns:us-east-1:1:Down", true},
		{"video.live_stream.simulcast.broadcasting", "arn:aws:sns:us-east-1:1:Simulcast", true},
		{"video.live_stream.simulcast_target.broadcasting", "arn:aws:sns:us-east-1:1:Simulcast", true},
		{"video.live_stream.idle", "", false},
		{"video.live_stream.created", "", false},
		{"video.live_stream.simulcast_target.starting", "", false},
		{"video.media.ready", "", false},
		{"VIDEO.LIVE_STREAM.ACTIVE", "", false},
	}
	for _, tc := range tests {
		got, ok := routes.Topic(tc.typ)
		if got != tc.want || ok != tc.notable {
			t.Errorf("Topic(%s) = %q, %v; want %q, %v", tc.typ, got, ok, tc.want, tc.notable)
		}
	}
	if got := strings.Join(routes.Types(), ","); got != "video.live_stream.active,video.live_stream.disconnected,video.live_stream.simulcast.broadcasting,video.live_stream.simulcast_target.broadcasting" {
		t.Errorf("Types() = %s", got)
	}
}

const (
	longStream = "a2ae2143-62a1-4eee-b888-4f1406148481"
	longTarget = "0f9d77e1-3c2b-4b8e-9a51-1d2e3f4a5b6c7d8e9f00-ffffffffffff"
	longWS     = "7c07598b-c27b-42e6-8b31-a334da54c387"
	longEvent  = "8fa0e3ea-3d5c-4712-8428-803b532bbc33"
	credential = "FP_TRgf4CswLZ9UcHH3yTxQ"
)

// records are every routed type (and a configured-later one) with long ids
// and awkward workspace names.
func records() []eventstore.Record {
	base := eventstore.Record{
		EventID: longEvent, StreamID: longStream, WorkspaceID: longWS, WorkspaceName: "Development",
		OccurredAt: "2024-04-02T11:17:52.722812836Z",
		// A stored payload is redacted; this one is not, to prove renderings
		// never read it.
		Payload: `{"data":{"streamKey":"` + credential + `"}}`,
	}
	with := func(typ, target, ws string, test bool) eventstore.Record {
		r := base
		r.Type, r.SimulcastID, r.WorkspaceName, r.Test = typ, target, ws, test
		return r
	}
	long := strings.Repeat("Très long espace de travail {prod} ~ ", 6)
	return []eventstore.Record{
		with("video.live_stream.active", "", "Development", false),
		with("video.live_stream.disconnected", "", "Development", false),
		with("video.live_stream.simulcast.broadcasting", longTarget, "Development", false),
		with("video.live_stream.simulcast_target.broadcasting", longTarget, "Development", false),
		with("video.live_stream.idle", "", "Development", false),
		with("video.live_stream.active", "", long, true),
		with("video.live_stream.disconnected", "", "", true),
		with("video.live_stream.simulcast_target.broadcasting", longTarget, long+"\n€[]", true),
		with("video.live_stream.simulcast.starting", longTarget+longTarget, "日本語のワークスペース", true),
	}
}

func TestRenderSMS(t *testing.T) {
	for _, r := range records() {
		t.Run(r.Type, func(t *testing.T) {
			m := alerts.Render(alerts.FromRecord(r, ""))
			n := utf8.RuneCountInString(m.SMS)
			if n == 0 || n > 140 {
				t.Errorf("SMS has %d characters: %q", n, m.SMS)
			}
			for _, c := range m.SMS {
				if !strings.ContainsRune(gsm7, c) {
					t.Errorf("SMS has %q, not in the GSM-7 basic set: %q", c, m.SMS)
				}
			}
			if !strings.Contains(m.SMS, "a2ae..8481") {
				t.Errorf("SMS lacks the short stream id: %q", m.SMS)
			}
			if strings.Contains(m.SMS, longStream) {
				t.Errorf("SMS has the full stream id: %q", m.SMS)
			}
			if r.SimulcastID != "" && !strings.Contains(m.SMS, alerts.ShortID(r.SimulcastID)) {
				t.Errorf("SMS lacks the short target id: %q", m.SMS)
			}
			if r.Test != strings.HasPrefix(m.SMS, "(TEST) ") {
				t.Errorf("test %v but SMS %q", r.Test, m.SMS)
			}
			if !strings.Contains(m.SMS, "11:17 UTC") {
				t.Errorf("SMS lacks the time: %q", m.SMS)
			}
		})
	}
}

func TestRenderSMSExample(t *testing.T) {
	m := alerts.Render(alerts.FromRecord(records()[0], "active"))
	if want := "LIVE: stream a2ae..8481 (Development) active 11:17 UTC"; m.SMS != want {
		t.Errorf("SMS = %q, want %q", m.SMS, want)
	}
}

func TestRenderSubject(t *testing.T) {
	for _, r := range records() {
		t.Run(r.Type, func(t *testing.T) {
			s := alerts.Render(alerts.FromRecord(r, "")).Subject
			if len(s) == 0 || len(s) >= 100 {
				t.Errorf("subject has %d bytes: %q", len(s), s)
			}
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] > 0x7e {
					t.Errorf("subject byte %d is %#x, not printable ASCII: %q", i, s[i], s)
				}
			}
			if !strings.Contains(s, "a2ae..8481") {
				t.Errorf("subject lacks the stream: %q", s)
			}
		})
	}
}

func TestRenderDefaultAndEmail(t *testing.T) {
	for _, r := range records() {
		t.Run(r.Type, func(t *testing.T) {
			status := r.Type[strings.LastIndexByte(r.Type, '.')+1:]
			m := alerts.Render(alerts.FromRecord(r, status))
			var got struct {
				EventID           string `json:"eventId"`
				Type              string `json:"type"`
				StreamID          string `json:"streamId"`
				SimulcastTargetID string `json:"simulcastTargetId"`
				Workspace         struct{ ID, Name string }
				Status            string `json:"status"`
				OccurredAt        string `json:"occurredAt"`
				Test              bool   `json:"test"`
			}
			if err := json.Unmarshal([]byte(m.Default), &got); err != nil {
				t.Fatalf("default is not JSON: %v: %s", err, m.Default)
			}
			if got.EventID != r.EventID || got.Type != r.Type || got.StreamID != r.StreamID ||
				got.SimulcastTargetID != r.SimulcastID || got.Workspace.ID != r.WorkspaceID ||
				got.Workspace.Name != r.WorkspaceName || got.Status != status || got.OccurredAt != r.OccurredAt || got.Test != r.Test {
				t.Errorf("default = %+v from %+v", got, r)
			}
			if strings.Contains(m.Default, "\n") {
				t.Errorf("default is not compact: %q", m.Default)
			}
			for _, want := range []string{r.StreamID, r.WorkspaceID, r.EventID, r.Type, "2 April 2024, 11:17:52 UTC"} {
				if !strings.Contains(m.Email, want) {
					t.Errorf("email lacks %q:\n%s", want, m.Email)
				}
			}
			if r.SimulcastID != "" && !strings.Contains(m.Email, r.SimulcastID) {
				t.Errorf("email lacks the target:\n%s", m.Email)
			}
			if r.Test && !strings.Contains(m.Email, "test stream") {
				t.Errorf("email of a test stream does not say so:\n%s", m.Email)
			}
			for _, rendering := range []string{m.Default, m.Email, m.SMS, m.Subject} {
				if strings.Contains(rendering, credential) {
					t.Errorf("a rendering carries the credential: %q", rendering)
				}
			}
		})
	}
}

func TestRenderHeadlines(t *testing.T) {
	tests := []struct {
		typ, target, status string
		sms, email          string
	}{
		{"video.live_stream.active", "", "active", "LIVE: stream ", "Stream " + longStream + " is live."},
		{"video.live_stream.disconnected", "", "disconnected", "DISCONNECTED: stream ", "Stream " + longStream + " disconnected"},
		{"video.live_stream.simulcast.broadcasting", "t-1", "broadcasting", "SIMULCAST LIVE: stream a2ae..8481 target t-1 ", "Simulcast target t-1 of stream " + longStream + " is broadcasting."},
		{"video.live_stream.simulcast_target.broadcasting", "t-1", "broadcasting", "SIMULCAST LIVE: stream a2ae..8481 target t-1 ", "Simulcast target t-1 of stream " + longStream + " is broadcasting."},
		{"video.live_stream.idle", "", "idle", "IDLE: stream ", "Stream " + longStream + " is now idle."},
		{"video.live_stream.simulcast_target.starting", "t-1", "starting", "SIMULCAST STARTING: stream ", "is now starting."},
	}
	for _, tc := range tests {
		r := records()[0]
		r.Type, r.SimulcastID = tc.typ, tc.target
		m := alerts.Render(alerts.FromRecord(r, tc.status))
		if !strings.HasPrefix(m.SMS, tc.sms) {
			t.Errorf("%s: SMS %q, want prefix %q", tc.typ, m.SMS, tc.sms)
		}
		if !strings.Contains(m.Email, tc.email) {
			t.Errorf("%s: email lacks %q:\n%s", tc.typ, tc.email, m.Email)
		}
	}
}

func TestRenderAttributes(t *testing.T) {
	tests := []struct {
		name string
		r    eventstore.Record
		want map[string]string
	}{
		{
			name: "all",
			r:    eventstore.Record{EventID: "e", Type: "video.live_stream.active", StreamID: "s", WorkspaceID: "w", Test: true},
			want: map[string]string{"eventType": "video.live_stream.active", "streamId": "s", "workspaceId": "w", "test": "true", "kind": "live"},
		},
		{
			name: "no workspace, not a test",
			r:    eventstore.Record{EventID: "e", Type: "video.live_stream.disconnected", StreamID: "s"},
			want: map[string]string{"eventType": "video.live_stream.disconnected", "streamId": "s", "test": "false", "kind": "disconnected"},
		},
		{
			name: "no stream",
			r:    eventstore.Record{EventID: "e", Type: "video.media.ready", WorkspaceID: "w"},
			want: map[string]string{"eventType": "video.media.ready", "workspaceId": "w", "test": "false"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := alerts.Render(alerts.FromRecord(tc.r, "")).Attributes
			if len(got) != len(tc.want) {
				t.Errorf("attributes = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("attribute %s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestShortID(t *testing.T) {
	tests := map[string]string{
		longStream:      "a2ae..8481",
		"short-id":      "short-id",
		"123456789012":  "123456789012",
		"1234567890123": "1234..0123",
		"":              "",
	}
	for in, want := range tests {
		if got := alerts.ShortID(in); got != want {
			t.Errorf("ShortID(%q) = %q, want %q", in, got, want)
		}
	}
}

type fakeSNS struct {
	in  []*sns.PublishInput
	err error
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = append(f.in, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
}

func TestSNSPublisher(t *testing.T) {
	const topic = "arn:aws:sns:us-east-1:1:Live"
	m := alerts.Render(alerts.FromRecord(records()[5], "active"))
	tests := []struct {
		name    string
		err     error
		wantErr bool
	}{
		{name: "published"},
		{name: "SNS fails", err: errors.New("connection refused"), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSNS{err: tc.err}
			err := (&alerts.SNSPublisher{Client: f}).Publish(context.Background(), topic, m)
			if tc.wantErr != (err != nil) || (tc.wantErr && !errors.Is(err, alerts.ErrPublish)) {
				t.Fatalf("Publish = %v, want error %v", err, tc.wantErr)
			}
			if len(f.in) != 1 {
				t.Fatalf("%d Publish requests, want 1", len(f.in))
			}
			in := f.in[0]
			if aws.ToString(in.TopicArn) != topic || aws.ToString(in.MessageStructure) != "json" || aws.ToString(in.Subject) != m.Subject {
				t.Errorf("input = topic %q structure %q subject %q", aws.ToString(in.TopicArn), aws.ToString(in.MessageStructure), aws.ToString(in.Subject))
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &body); err != nil {
				t.Fatalf("message is not a JSON object of strings: %v", err)
			}
			if len(body) != 4 || body["default"] != m.Default || body["email"] != m.Email || body["sms"] != m.SMS || body["https"] != m.Chat {
				t.Errorf("message = %v", body)
			}
			if len(in.MessageAttributes) != len(m.Attributes) {
				t.Errorf("attributes = %v, want %v", in.MessageAttributes, m.Attributes)
			}
			for k, v := range m.Attributes {
				a := in.MessageAttributes[k]
				if aws.ToString(a.DataType) != "String" || aws.ToString(a.StringValue) != v {
					t.Errorf("attribute %s = %s %q, want String %q", k, aws.ToString(a.DataType), aws.ToString(a.StringValue), v)
				}
			}
		})
	}
}

// A message with only a default rendering (the change feed's) is published
// as that text, without MessageStructure: every protocol gets the JSON.
func TestSNSPublisherDefaultOnly(t *testing.T) {
	f := &fakeSNS{}
	m := alerts.Message{Default: `{"streamId":"s-1","status":"idle"}`, Attributes: map[string]string{"status": "idle", "workspaceId": ""}}
	if err := (&alerts.SNSPublisher{Client: f}).Publish(context.Background(), "arn:aws:sns:us-east-1:1:Changes", m); err != nil {
		t.Fatal(err)
	}
	if len(f.in) != 1 {
		t.Fatalf("%d Publish requests, want 1", len(f.in))
	}
	in := f.in[0]
	if in.MessageStructure != nil || in.Subject != nil || aws.ToString(in.Message) != m.Default {
		t.Errorf("input: structure %v, subject %v, message %q; want the default text alone", in.MessageStructure, in.Subject, aws.ToString(in.Message))
	}
	if len(in.MessageAttributes) != 1 || aws.ToString(in.MessageAttributes["status"].StringValue) != "idle" {
		t.Errorf("attributes %v: want status only (SNS refuses empty values)", in.MessageAttributes)
	}
}
