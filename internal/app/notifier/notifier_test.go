package notifier

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

type ownClient struct{}

func (ownClient) Do(*http.Request) (*http.Response, error) { return nil, nil }

func TestKeepConnections(t *testing.T) {
	tests := []struct {
		name   string
		client aws.HTTPClient
		want   int // idle connections per host; 0: the caller's client kept
	}{
		{"no client: the SDK's, with 16", nil, 16},
		{"the SDK's default client (10): raised to 16", awshttp.NewBuildableClient(), 16},
		{"the SDK's client with more: kept", awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = 64 }), 64},
		{"a client of the caller's own: left alone", ownClient{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := keepConnections(aws.Config{HTTPClient: tc.client}, 16).HTTPClient
			if tc.want == 0 {
				if _, ok := got.(ownClient); !ok {
					t.Fatalf("client replaced by %T", got)
				}
				return
			}
			c, ok := got.(*awshttp.BuildableClient)
			if !ok {
				t.Fatalf("client %T, want the SDK's", got)
			}
			if n := c.GetTransport().MaxIdleConnsPerHost; n != tc.want {
				t.Errorf("MaxIdleConnsPerHost = %d, want %d", n, tc.want)
			}
		})
	}
}
