package proof

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
)

// TestRequestsToAWSPerEvent counts every HTTP request the webhook's DynamoDB
// client sends (retries included) per kind of delivery: one conditional
// PutItem for any signed event, new or duplicate (a duplicate is that one
// PutItem failing its condition, nothing more), and none for a probe, a
// forged or a malformed delivery.
func TestRequestsToAWSPerEvent(t *testing.T) {
	counter := newRequestCounter()
	client := dynamodb.NewFromConfig(testenv.AWSConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(testenv.DynamoDBEndpoint(t))
		o.HTTPClient = counter
	})
	r := newRig(t, client, 10*time.Second)
	counter.snapshot() // CreateTable is the test's, not the webhook's

	signed := func(b []byte) events.APIGatewayV2HTTPRequest { return post(b, sign(t, proofSecret, b)) }
	newEvent, concurrent := ev("req-new"), ev("req-concurrent")
	tests := []struct {
		name     string
		requests []events.APIGatewayV2HTTPRequest
		status   int
		accepted int // answers {"status":"accepted"}; the other 200s say "duplicate" or are probes
		want     map[string]int
	}{
		{"new event", []events.APIGatewayV2HTTPRequest{signed(newEvent)}, 200, 1, map[string]int{"PutItem": 1}},
		{"duplicate of it", []events.APIGatewayV2HTTPRequest{signed(newEvent)}, 200, 0, map[string]int{"PutItem": 1}},
		{"third delivery of it", []events.APIGatewayV2HTTPRequest{signed(newEvent)}, 200, 0, map[string]int{"PutItem": 1}},
		{"16 concurrent deliveries of one new event", repeat(signed(concurrent), 16), 200, 1, map[string]int{"PutItem": 16}},
		{"probe", []events.APIGatewayV2HTTPRequest{post([]byte(`{}`), "")}, 200, 0, map[string]int{}},
		{"forged signature", []events.APIGatewayV2HTTPRequest{post(ev("req-forged"), "AAAA")}, 401, 0, map[string]int{}},
		{"signed, not an event", []events.APIGatewayV2HTTPRequest{signed([]byte(`{"id":7,"type":"x"}`))}, 400, 0, map[string]int{}},
		{"signed, 500 KB (stored gzipped)", []events.APIGatewayV2HTTPRequest{signed(padded(ev("req-large"), 500<<10))}, 200, 1, map[string]int{"PutItem": 1}},
		{"signed, too large even gzipped", []events.APIGatewayV2HTTPRequest{signed(incompressible(ev("req-huge"), 900<<10))}, 400, 0, map[string]int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			statuses := make([]int, len(tc.requests))
			outcomes := make([]any, len(tc.requests))
			for i, req := range tc.requests {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					resp, err := r.hook.Handle(ctx, req)
					if err != nil {
						t.Errorf("Handle: %v", err)
					}
					statuses[i] = resp.StatusCode
					outcomes[i] = answer(t, resp)["status"]
				}()
			}
			wg.Wait()
			for i, st := range statuses {
				if st != tc.status {
					t.Errorf("delivery %d: status %d, want %d", i, st, tc.status)
				}
			}
			accepted := 0
			for _, o := range outcomes {
				if o == "accepted" {
					accepted++
				}
			}
			if accepted != tc.accepted {
				t.Errorf("%d answers say accepted, want %d: %v", accepted, tc.accepted, outcomes)
			}
			got := counter.snapshot()
			if !maps.Equal(got, tc.want) {
				t.Errorf("requests to DynamoDB %v, want %v", got, tc.want)
			}
			fmt.Printf("requests to AWS: %-42s %d deliveries -> %v\n", tc.name+":", len(tc.requests), got)
		})
	}
	items := r.items(t)
	if len(items) != 3 {
		t.Errorf("table holds %d items, want 3 (req-new, req-concurrent, req-large)", len(items))
	}
}

func repeat(req events.APIGatewayV2HTTPRequest, n int) []events.APIGatewayV2HTTPRequest {
	out := make([]events.APIGatewayV2HTTPRequest, n)
	for i := range out {
		out[i] = req
	}
	return out
}
