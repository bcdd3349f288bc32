package streams

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr []string
	}{
		{name: "both tables", env: map[string]string{"EVENTS_TABLE": "events", "STATE_TABLE": "state"}, want: Config{EventsTable: "events", StateTable: "state"}},
		{name: "no state table", env: map[string]string{"EVENTS_TABLE": "events"}, wantErr: []string{"STATE_TABLE is not set"}},
		{name: "no table at all", env: nil, wantErr: []string{"EVENTS_TABLE is not set", "STATE_TABLE is not set"}},
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
	for _, cfg := range []Config{{}, {EventsTable: "events"}, {StateTable: "state"}} {
		if h, err := New(cfg, aws.Config{}, nil); err == nil {
			t.Errorf("New(%+v) = %v, want an error", cfg, h)
		}
	}
}
