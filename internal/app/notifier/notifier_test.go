package notifier

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestConfigFromEnv(t *testing.T) {
	const routes = `{"video.live_stream.active":"arn:aws:sns:us-east-1:123456789012:live"}`
	tests := []struct {
		name      string
		env       map[string]string
		wantTypes []string
		wantTests bool
		wantErr   []string
	}{
		{name: "defaults: no routes, test events published", env: map[string]string{"STATE_TABLE": "state"}, wantTests: true},
		{name: "as deployed", env: map[string]string{"STATE_TABLE": "state", "ALERT_ROUTES": routes, "PUBLISH_TEST_EVENTS": "false"},
			wantTypes: []string{"video.live_stream.active"}},
		{name: "no table", env: map[string]string{"ALERT_ROUTES": routes}, wantErr: []string{"STATE_TABLE is not set"}},
		{name: "routes not JSON", env: map[string]string{"STATE_TABLE": "state", "ALERT_ROUTES": "live=arn"}, wantErr: []string{"ALERT_ROUTES"}},
		{name: "publish not a boolean", env: map[string]string{"STATE_TABLE": "state", "PUBLISH_TEST_EVENTS": "sometimes"},
			wantErr: []string{`PUBLISH_TEST_EVENTS must be true or false, got "sometimes"`}},
		{name: "every problem at once", env: map[string]string{"ALERT_ROUTES": "[", "PUBLISH_TEST_EVENTS": "maybe"},
			wantErr: []string{"STATE_TABLE is not set", "ALERT_ROUTES", "PUBLISH_TEST_EVENTS"}},
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
			if err != nil {
				t.Fatal(err)
			}
			if got.StateTable != tt.env["STATE_TABLE"] || got.PublishTestEvents != tt.wantTests ||
				strings.Join(got.Routes.Types(), ",") != strings.Join(tt.wantTypes, ",") {
				t.Errorf("= %+v", got)
			}
		})
	}
}

func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	if h, err := New(Config{}, aws.Config{}, nil, nil); err == nil {
		t.Errorf("New without a state table = %v, want an error", h)
	}
	if _, _, err := Processor(Config{}, aws.Config{}, nil); err == nil {
		t.Error("Processor without a state table: want an error")
	}
}
