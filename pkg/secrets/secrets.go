// Package secrets loads the webhook signing secrets: from AWS Secrets
// Manager in AWS, or from an environment variable for local runs.
//
// A secret's value holds one or more base64 signing secrets separated by
// commas: the current one and, during a rotation, the previous one.
package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Environment variables the functions read.
const (
	// EnvSecret holds the secrets themselves (local runs only).
	EnvSecret = "FASTPIX_WEBHOOK_SECRET"
	// EnvSecretARN names the Secrets Manager secret holding them.
	EnvSecretARN = "FASTPIX_WEBHOOK_SECRET_ARN"
)

// ErrEmpty: the source holds no secret.
var ErrEmpty = errors.New("secrets: no signing secret set (set " + EnvSecretARN + " or " + EnvSecret + ")")

// Loader returns the signing secrets.
type Loader func(ctx context.Context) ([]string, error)

// FromValue returns a Loader of a fixed value.
func FromValue(value string) Loader {
	return func(context.Context) ([]string, error) {
		if value == "" {
			return nil, ErrEmpty
		}
		return []string{value}, nil
	}
}

// GetSecretValueAPI is the part of the Secrets Manager client used here.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// FromSecretsManager returns a Loader that reads the secret arn.
func FromSecretsManager(client GetSecretValueAPI, arn string) Loader {
	return func(ctx context.Context) ([]string, error) {
		out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("secrets: read %s: %w", arn, err)
		}
		v := aws.ToString(out.SecretString)
		if v == "" {
			return nil, fmt.Errorf("secrets: %s: %w (fill it in with the FastPix dashboard's signing secret)", arn, ErrEmpty)
		}
		return []string{v}, nil
	}
}

// Source says where the signing secrets are: the Secrets Manager secret
// ARN or, for local runs, the secrets themselves in Value. ARN wins, so a
// stray value left in a deployed function's environment is never used.
type Source struct {
	ARN   string
	Value string
}

// SourceFromEnv reads EnvSecretARN and EnvSecret through getenv.
func SourceFromEnv(getenv func(string) string) Source {
	return Source{ARN: getenv(EnvSecretARN), Value: getenv(EnvSecret)}
}

// Configured reports whether the source names any secret at all.
func (s Source) Configured() bool { return s.ARN != "" || s.Value != "" }

// Loader returns the Loader of the source: Secrets Manager (through
// newClient, called only then) when ARN is set, else Value.
func (s Source) Loader(newClient func() GetSecretValueAPI) Loader {
	if s.ARN != "" {
		return FromSecretsManager(newClient(), s.ARN)
	}
	return FromValue(s.Value)
}
