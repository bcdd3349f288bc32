// Package testenv gives tests clients of real local stand-ins for AWS:
// DynamoDB Local and the goaws SNS emulator, over the network.
//
// Each test process (one per package under go test) starts its own
// DynamoDB Local and goaws the first time a test asks, on free ports, and
// they die with it; nothing is shared between packages, so they may run in
// parallel. To point the tests at emulators already running instead (e.g.
// those of `make run`), set DYNAMODB_ENDPOINT or SNS_ENDPOINT to their URLs;
// the Makefile sets neither. Each test gets its own uniquely named tables and
// topics, so tests do not see each other's data.
//
// It lives under internal/ so that the domain packages' tests (pkg/...) use
// it without depending on the infrastructure code under infra/.
package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/internal/emulator"
)

// shared is one emulator the tests of a process share: the one at the URL
// in $env when set, or else one started on first use.
type shared struct {
	what    string
	env     string
	timeout time.Duration
	start   func(context.Context) (*emulator.Process, error)

	once     sync.Once
	endpoint string
	err      error
}

func (s *shared) url(t testing.TB) string {
	t.Helper()
	s.once.Do(func() {
		if ep := os.Getenv(s.env); ep != "" {
			s.endpoint = ep
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		p, err := s.start(ctx)
		if err != nil {
			s.err = err
			return
		}
		s.endpoint = p.Endpoint
	})
	if s.err != nil {
		t.Fatalf("%s: %v", s.what, s.err)
	}
	return s.endpoint
}

var (
	sharedDynamoDB = &shared{what: "DynamoDB Local", env: "DYNAMODB_ENDPOINT", timeout: 90 * time.Second,
		start: func(ctx context.Context) (*emulator.Process, error) {
			return emulator.StartDynamoDB(ctx, emulator.DynamoDBOptions{})
		}}
	sharedSNS = &shared{what: "SNS emulator", env: "SNS_ENDPOINT", timeout: 60 * time.Second,
		start: func(ctx context.Context) (*emulator.Process, error) {
			return emulator.StartSNS(ctx, emulator.SNSOptions{})
		}}

	tmplOnce sync.Once
	tmpl     *samtemplate.Template
	tmplErr  error

	seq atomic.Int64
)

// AWSConfig is the configuration every local client uses: the emulators'
// region and throw-away static credentials.
func AWSConfig() aws.Config {
	return aws.Config{
		Region:      emulator.Region,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
}

// DynamoDBEndpoint returns the URL of the shared DynamoDB Local, starting it
// if needed.
func DynamoDBEndpoint(t testing.TB) string {
	t.Helper()
	return sharedDynamoDB.url(t)
}

// DynamoDB returns a client of the shared DynamoDB Local.
func DynamoDB(t testing.TB) *dynamodb.Client {
	return DynamoDBAt(DynamoDBEndpoint(t))
}

// DynamoDBAt returns a client of the DynamoDB at endpoint.
func DynamoDBAt(endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(AWSConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}

// Streams returns a DynamoDB Streams client of the shared DynamoDB Local.
func Streams(t testing.TB) *dynamodbstreams.Client {
	return StreamsAt(DynamoDBEndpoint(t))
}

// StreamsAt returns a DynamoDB Streams client of the DynamoDB at endpoint.
func StreamsAt(endpoint string) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(AWSConfig(), func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}

// SNSEndpoint returns the URL of the shared goaws SNS emulator, starting it
// if needed.
func SNSEndpoint(t testing.TB) string {
	t.Helper()
	return sharedSNS.url(t)
}

// SNS returns a client of the shared SNS emulator.
func SNS(t testing.TB) *sns.Client {
	return SNSAt(SNSEndpoint(t))
}

// SNSAt returns a client of the SNS at endpoint.
func SNSAt(endpoint string) *sns.Client {
	return sns.NewFromConfig(AWSConfig(), func(o *sns.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}

// Template returns the parsed template.yaml.
func Template(t testing.TB) *samtemplate.Template {
	t.Helper()
	tmplOnce.Do(func() { tmpl, tmplErr = samtemplate.LoadDefault() })
	if tmplErr != nil {
		t.Fatalf("template: %v", tmplErr)
	}
	return tmpl
}

// UniqueName returns a name no other test of this run uses.
func UniqueName(t testing.TB, base string) string {
	name := fmt.Sprintf("%s-%d-%d-%s", base, os.Getpid(), seq.Add(1), sanitize(t.Name()))
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, s)
}

// CreateTable creates the template's table logicalID in client's DynamoDB
// under a fresh name, deletes it when the test ends, and returns the name.
func CreateTable(t testing.TB, client *dynamodb.Client, logicalID string) string {
	t.Helper()
	name := UniqueName(t, logicalID)
	in, err := Template(t).CreateTableInput(logicalID, name)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := client.CreateTable(ctx, in); err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

// CreateTopic creates an SNS topic under a fresh name and returns its ARN.
func CreateTopic(t testing.TB, client *sns.Client, base string) string {
	t.Helper()
	out, err := client.CreateTopic(context.Background(), &sns.CreateTopicInput{Name: aws.String(UniqueName(t, base))})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	return aws.ToString(out.TopicArn)
}
