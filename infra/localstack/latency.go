package localstack

import (
	"context"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go/middleware"
)

// withPublishLatency is cfg with every SNS request (each retry too) held
// for latency before it is sent, as a slower network would; other services
// are left as they are. goaws answers a Publish in about a millisecond while
// SNS takes tens of them: a benchmark of the alert path sets the latency so
// that its figures reflect the service rather than the emulator.
func withPublishLatency(cfg aws.Config, latency time.Duration) aws.Config {
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
