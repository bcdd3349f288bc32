package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/secrets"
)

func TestConfigFromEnv(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:fastpix-AbCdEf"
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr []string // each must appear in the error
	}{
		{name: "defaults", env: map[string]string{"EVENTS_TABLE": "events"},
			want: Config{EventsTable: "events", Retention: eventstore.DefaultRetention}},
		{name: "as deployed", env: map[string]string{"EVENTS_TABLE": "events", "RETENTION_DAYS": "30", secrets.EnvSecretARN: arn},
			want: Config{EventsTable: "events", Retention: 30 * 24 * time.Hour, Secret: secrets.Source{ARN: arn}}},
		{name: "local secret by value", env: map[string]string{"EVENTS_TABLE": "events", secrets.EnvSecret: "c2Vj"},
			want: Config{EventsTable: "events", Retention: eventstore.DefaultRetention, Secret: secrets.Source{Value: "c2Vj"}}},
		{name: "no table", env: map[string]string{"RETENTION_DAYS": "30"}, wantErr: []string{"EVENTS_TABLE is not set"}},
		{name: "retention not a number", env: map[string]string{"EVENTS_TABLE": "events", "RETENTION_DAYS": "x"},
			wantErr: []string{`RETENTION_DAYS must be a positive whole number, got "x"`}},
		{name: "retention zero", env: map[string]string{"EVENTS_TABLE": "events", "RETENTION_DAYS": "0"},
			wantErr: []string{`RETENTION_DAYS must be a positive whole number, got "0"`}},
		{name: "retention negative", env: map[string]string{"EVENTS_TABLE": "events", "RETENTION_DAYS": "-3"},
			wantErr: []string{`got "-3"`}},
		{name: "every problem at once", env: map[string]string{"RETENTION_DAYS": "90d"},
			wantErr: []string{"EVENTS_TABLE is not set", `RETENTION_DAYS must be a positive whole number, got "90d"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tt.env[k] })
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("= %+v, want an error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Retention: time.Hour},
		{EventsTable: "events"},
		{EventsTable: "events", Retention: -time.Hour},
	} {
		if h, err := New(cfg, aws.Config{}, nil, nil); err == nil {
			t.Errorf("New(%+v) = %v, want an error", cfg, h)
		}
	}
}
