package app_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamhook/fastpix-receiver/internal/app/notifier"
	"github.com/streamhook/fastpix-receiver/internal/app/streams"
	"github.com/streamhook/fastpix-receiver/internal/app/webhook"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/secrets"
)

// Each function's ConfigFromEnv, as a table: what a complete environment
// gives, and that every missing or malformed setting is an error naming its
// variable and, when malformed, the value.
func TestConfigFromEnv(t *testing.T) {
	const (
		arn     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:fastpix-AbCdEf"
		topic   = "arn:aws:sns:us-east-1:123456789012:live"
		routes  = `{"video.live_stream.active":"` + topic + `"}`
		changes = "arn:aws:sns:us-east-1:123456789012:changes"
		queue   = "https://sqs.us-east-1.amazonaws.com/123456789012/checks"
	)
	read := map[string]func(getenv func(string) string) (any, error){
		"webhook":  func(g func(string) string) (any, error) { return webhook.ConfigFromEnv(g) },
		"notifier": func(g func(string) string) (any, error) { return notifier.ConfigFromEnv(g) },
		"streams":  func(g func(string) string) (any, error) { return streams.ConfigFromEnv(g) },
	}
	tests := []struct {
		fn, name string
		env      map[string]string
		want     any
		wantErr  []string // each must appear in the error
	}{
		{fn: "webhook", name: "defaults", env: map[string]string{"EVENTS_TABLE": "events"},
			want: webhook.Config{EventsTable: "events", Retention: eventstore.DefaultRetention, ClockSkewTolerance: eventstore.DefaultClockSkewTolerance}},
		{fn: "webhook", name: "as deployed", env: map[string]string{"EVENTS_TABLE": "events", "RETENTION_DAYS": "30", secrets.EnvSecretARN: arn, "CLOCK_SKEW_TOLERANCE_SECONDS": "300"},
			want: webhook.Config{EventsTable: "events", Retention: 30 * 24 * time.Hour, ClockSkewTolerance: 5 * time.Minute, Secret: secrets.Source{ARN: arn}}},
		{fn: "webhook", name: "local secret by value", env: map[string]string{"EVENTS_TABLE": "events", secrets.EnvSecret: "c2Vj"},
			want: webhook.Config{EventsTable: "events", Retention: eventstore.DefaultRetention, ClockSkewTolerance: eventstore.DefaultClockSkewTolerance, Secret: secrets.Source{Value: "c2Vj"}}},
		{fn: "webhook", name: "clock skew tolerance not a number", env: map[string]string{"EVENTS_TABLE": "events", "CLOCK_SKEW_TOLERANCE_SECONDS": "1m"},
			wantErr: []string{`CLOCK_SKEW_TOLERANCE_SECONDS must be a positive whole number, got "1m"`}},
		{fn: "webhook", name: "no table", env: map[string]string{"RETENTION_DAYS": "30"}, wantErr: []string{"EVENTS_TABLE is not set"}},
		{fn: "webhook", name: "retention not a number", env: map[string]string{"EVENTS_TABLE": "events", "RETENTION_DAYS": "x"},
			wantErr: []string{`RETENTION_DAYS must be a positive whole number, got "x"`}},
		{fn: "webhook", name: "retention zero", env: map[string]string{"EVENTS_TABLE": "events", "RETENTION_DAYS": "0"},
			wantErr: []string{`RETENTION_DAYS must be a positive whole number, got "0"`}},
		{fn: "webhook", name: "retention negative", env: map[string]string{"EVENTS_TABLE": "events", "RETENTION_DAYS": "-3"},
			wantErr: []string{`RETENTION_DAYS must be a positive whole number, got "-3"`}},
		{fn: "webhook", name: "every problem at once", env: map[string]string{"RETENTION_DAYS": "90d"},
			wantErr: []string{"EVENTS_TABLE is not set", `RETENTION_DAYS must be a positive whole number, got "90d"`}},

		{fn: "notifier", name: "defaults: no routes, test events published", env: map[string]string{"EVENTS_TABLE": "events", "STATE_TABLE": "state"},
			want: notifier.Config{EventsTable: "events", StateTable: "state", Routes: alerts.Routes{}, PublishTestEvents: true, Rules: alertrules.Defaults()}},
		{fn: "notifier", name: "as deployed", env: map[string]string{"EVENTS_TABLE": "events", "STATE_TABLE": "state", "ALERT_ROUTES": routes, "PUBLISH_TEST_EVENTS": "false", "CHANGES_TOPIC_ARN": changes,
			"DISCONNECT_GRACE_SECONDS": "45", "FLAP_THRESHOLD": "4", "FLAP_WINDOW_MINUTES": "15", "DISCONNECT_CHECK_QUEUE_URL": queue, "DEAD_LETTER_QUEUE_URL": queue + "-dlq"},
			want: notifier.Config{EventsTable: "events", StateTable: "state", Routes: alerts.Routes{"video.live_stream.active": topic}, ChangesTopicARN: changes,
				Rules: alertrules.Settings{Grace: 45 * time.Second, FlapThreshold: 4, FlapWindow: 15 * time.Minute}, CheckQueueURL: queue, DeadLetterQueueURL: queue + "-dlq"}},
		{fn: "notifier", name: "grace 0: every disconnect at once", env: map[string]string{"EVENTS_TABLE": "events", "STATE_TABLE": "state", "DISCONNECT_GRACE_SECONDS": "0"},
			want: notifier.Config{EventsTable: "events", StateTable: "state", Routes: alerts.Routes{}, PublishTestEvents: true,
				Rules: alertrules.Settings{FlapThreshold: 3, FlapWindow: 10 * time.Minute}}},
		{fn: "notifier", name: "no events table", env: map[string]string{"STATE_TABLE": "state"}, wantErr: []string{"EVENTS_TABLE is not set"}},
		{fn: "notifier", name: "grace beyond SQS's 15 minutes", env: map[string]string{"EVENTS_TABLE": "events", "STATE_TABLE": "state", "DISCONNECT_GRACE_SECONDS": "901"},
			wantErr: []string{`DISCONNECT_GRACE_SECONDS="901"`}},
		{fn: "notifier", name: "flap window not a number", env: map[string]string{"EVENTS_TABLE": "events", "STATE_TABLE": "state", "FLAP_WINDOW_MINUTES": "10m"},
			wantErr: []string{`FLAP_WINDOW_MINUTES="10m"`}},
		{fn: "notifier", name: "no table", env: map[string]string{"ALERT_ROUTES": routes}, wantErr: []string{"STATE_TABLE is not set"}},
		{fn: "notifier", name: "routes not JSON", env: map[string]string{"EVENTS_TABLE": "events", "STATE_TABLE": "state", "ALERT_ROUTES": "live=arn"}, wantErr: []string{"ALERT_ROUTES"}},
		{fn: "notifier", name: "publish not a boolean", env: map[string]string{"EVENTS_TABLE": "events", "STATE_TABLE": "state", "PUBLISH_TEST_EVENTS": "sometimes"},
			wantErr: []string{`PUBLISH_TEST_EVENTS must be true or false, got "sometimes"`}},
		{fn: "notifier", name: "every problem at once", env: map[string]string{"ALERT_ROUTES": "[", "PUBLISH_TEST_EVENTS": "maybe"},
			wantErr: []string{"STATE_TABLE is not set", "ALERT_ROUTES", "PUBLISH_TEST_EVENTS"}},

		{fn: "streams", name: "both tables", env: map[string]string{"EVENTS_TABLE": "events", "STATE_TABLE": "state"},
			want: streams.Config{EventsTable: "events", StateTable: "state"}},
		{fn: "streams", name: "no state table", env: map[string]string{"EVENTS_TABLE": "events"}, wantErr: []string{"STATE_TABLE is not set"}},
		{fn: "streams", name: "no table at all", wantErr: []string{"EVENTS_TABLE is not set", "STATE_TABLE is not set"}},
	}
	for _, tt := range tests {
		t.Run(tt.fn+"/"+tt.name, func(t *testing.T) {
			got, err := read[tt.fn](func(k string) string { return tt.env[k] })
			if len(tt.wantErr) == 0 {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("= %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("= %+v, want an error", got)
			}
			for _, w := range append(tt.wantErr, tt.fn+": ") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// New refuses a Config that could not have come from ConfigFromEnv, rather
// than building a handler that fails on every event.
func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	tests := []struct {
		name string
		new  func() (any, error)
	}{
		{"webhook without a table", func() (any, error) { return webhook.New(webhook.Config{Retention: time.Hour}, aws.Config{}, nil, nil) }},
		{"webhook without retention", func() (any, error) { return webhook.New(webhook.Config{EventsTable: "events"}, aws.Config{}, nil, nil) }},
		{"webhook with negative retention", func() (any, error) {
			return webhook.New(webhook.Config{EventsTable: "events", Retention: -time.Hour}, aws.Config{}, nil, nil)
		}},
		{"notifier without a table", func() (any, error) { return notifier.New(notifier.Config{}, aws.Config{}, nil, nil) }},
		{"notifier without the events table", func() (any, error) {
			return notifier.New(notifier.Config{StateTable: "state", Rules: alertrules.Defaults(), CheckQueueURL: "q"}, aws.Config{}, nil, nil)
		}},
		{"notifier with a grace beyond 15 minutes", func() (any, error) {
			return notifier.New(notifier.Config{EventsTable: "events", StateTable: "state", Rules: alertrules.Settings{Grace: time.Hour}, CheckQueueURL: "q"}, aws.Config{}, nil, nil)
		}},
		{"notifier with a grace and no check queue", func() (any, error) {
			return notifier.New(notifier.Config{EventsTable: "events", StateTable: "state", Rules: alertrules.Defaults()}, aws.Config{}, nil, nil)
		}},
		{"streams without a state table", func() (any, error) { return streams.New(streams.Config{EventsTable: "events"}, aws.Config{}, nil) }},
		{"streams without an events table", func() (any, error) { return streams.New(streams.Config{StateTable: "state"}, aws.Config{}, nil) }},
	}
	for _, tt := range tests {
		if h, err := tt.new(); err == nil {
			t.Errorf("%s: = %v, want an error", tt.name, h)
		}
	}
}
