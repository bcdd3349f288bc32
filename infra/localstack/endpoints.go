package localstack

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"

	"github.com/streamhook/fastpix-receiver/internal/emulator"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
)

// serviceEndpoints points each AWS service's client at its emulator, keyed
// by the SDK's service id ("DynamoDB", "SNS", …). It is what
// AWS_ENDPOINT_URL_<SERVICE> does for a Lambda run locally, without
// touching the process's environment: every client made from an aws.Config
// asks its ConfigSources for GetServiceBaseEndpoint. So the functions'
// constructors take the same aws.Config here as in Lambda.
type serviceEndpoints map[string]string

// GetServiceBaseEndpoint is what the SDK's clients look for.
func (e serviceEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	u, ok := e[sdkID]
	return u, ok, nil
}

// awsConfig is the emulators' AWS configuration: their region and account,
// made-up credentials, each service at its endpoint, and, as in Lambda
// (lambdaenv's Env.AWS), every call ending before its context's deadline.
func awsConfig(endpoints serviceEndpoints) aws.Config {
	return aws.Config{
		Region:        emulator.Region,
		Credentials:   credentials.NewStaticCredentialsProvider("local", "local", ""),
		ConfigSources: []any{endpoints},
		APIOptions:    []func(*middleware.Stack) error{lambdaenv.WithinDeadline(lambdaenv.CallMargin)},
	}
}
