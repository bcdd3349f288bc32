package awslocal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// TestPublishLatency: with a latency, each SNS request reaches the server
// no sooner than that after it was made; DynamoDB's requests are not held.
func TestPublishLatency(t *testing.T) {
	const latency = 150 * time.Millisecond
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.Header.Get("X-Amz-Target") != "" {
			arrived["dynamodb"] = time.Now()
		} else {
			arrived["sns"] = time.Now()
		}
		mu.Unlock()
		w.WriteHeader(http.StatusBadRequest) // the answer does not matter
	}))
	defer srv.Close()
	cfg := WithPublishLatency(localConfig(srv.URL), latency)
	ctx := context.Background()

	start := time.Now()
	_, _ = sns.NewFromConfig(cfg, func(o *sns.Options) { o.RetryMaxAttempts = 1 }).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:1:t"), Message: aws.String("m")})
	mu.Lock()
	snsAt := arrived["sns"]
	mu.Unlock()
	if snsAt.IsZero() || snsAt.Sub(start) < latency {
		t.Errorf("SNS request arrived %v after the call, want at least %v", snsAt.Sub(start), latency)
	}

	// The same configuration's DynamoDB client: no hold. Its request is
	// compared with a hold of a minute, so the machine's speed does not
	// matter.
	cfg = WithPublishLatency(localConfig(srv.URL), time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t")})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a DynamoDB request was held as SNS's are")
	}
}

// localConfig sends every service's requests to endpoint.
func localConfig(endpoint string) aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), BaseEndpoint: aws.String(endpoint)}
}
