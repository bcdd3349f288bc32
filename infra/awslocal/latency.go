package awslocal

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go/middleware"
)

// WithPublishLatency is cfg with every SNS request (each retry too) held
// for latency before it is sent, as a slower network would; other services
// are left as they are. goaws answers a Publish in about a millisecond while
// SNS takes tens of them: a benchmark of the alert path sets the latency so
// that its figures reflect the service rather than the emulator.
func WithPublishLatency(cfg aws.Config, latency time.Duration) aws.Config {
	if latency <= 0 {
		return cfg
	}
	delay := middleware.DeserializeMiddlewareFunc("PublishLatency",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			if awsmiddleware.GetServiceID(ctx) == sns.ServiceID {
				t := time.NewTimer(latency)
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
					return middleware.DeserializeOutput{}, middleware.Metadata{}, ctx.Err()
				}
			}
			return next.HandleDeserialize(ctx, in)
		})
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), func(s *middleware.Stack) error {
		return s.Deserialize.Add(delay, middleware.After)
	})
	return cfg
}

// ErrInjected is the failure FailFirstPublish injects.
var ErrInjected = errors.New("awslocal: SNS publish failed (injected)")

// WithFirstPublishFailing fails the first attempt of every distinct SNS
// publish (by topic and message) the clients of cfg send, as an SNS outage
// of one attempt would, with an error the SDK does not retry, so the
// notifier sees it: the proofs show that nothing is lost and nothing sent
// twice.
func WithFirstPublishFailing(cfg aws.Config) aws.Config {
	var mu sync.Mutex
	seen := map[[32]byte]bool{}
	fail := middleware.InitializeMiddlewareFunc("FailFirstPublish",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if p, ok := in.Parameters.(*sns.PublishInput); ok {
				key := sha256.Sum256([]byte(aws.ToString(p.TopicArn) + "\x00" + aws.ToString(p.Message)))
				mu.Lock()
				first := !seen[key]
				seen[key] = true
				mu.Unlock()
				if first {
					return middleware.InitializeOutput{}, middleware.Metadata{}, ErrInjected
				}
			}
			return next.HandleInitialize(ctx, in)
		})
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), func(s *middleware.Stack) error {
		return s.Initialize.Add(fail, middleware.Before)
	})
	return cfg
}
