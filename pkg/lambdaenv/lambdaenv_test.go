package lambdaenv

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/infra/emulator/emulatortest"
)

// exited stops the code under test where os.Exit would have.
type exited struct{}

func run(t *testing.T, env map[string]string, f func(e *Env)) (failed bool, logs string) {
	t.Helper()
	var buf bytes.Buffer
	e := &Env{
		Log:    slog.New(slog.NewJSONHandler(&buf, nil)),
		Getenv: func(k string) string { return env[k] },
		Exit:   func(int) { panic(exited{}) },
	}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exited); !ok {
				panic(r)
			}
			failed = true
		}
		logs = buf.String()
	}()
	f(e)
	return false, buf.String()
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		read    func(e *Env) any
		want    any
		failLog string
	}{
		{"required set", map[string]string{"T": "tbl"}, func(e *Env) any { return e.Required("T") }, "tbl", ""},
		{"required missing", nil, func(e *Env) any { return e.Required("T") }, nil, "T is not set"},
		{"bool default", nil, func(e *Env) any { return e.Bool("B", true) }, true, ""},
		{"bool false", map[string]string{"B": "false"}, func(e *Env) any { return e.Bool("B", true) }, false, ""},
		{"bool bad", map[string]string{"B": "yes please"}, func(e *Env) any { return e.Bool("B", true) }, nil, "B must be true or false"},
		{"int default", nil, func(e *Env) any { return e.PositiveInt("N", 90) }, 90, ""},
		{"int set", map[string]string{"N": "30"}, func(e *Env) any { return e.PositiveInt("N", 90) }, 30, ""},
		{"int zero", map[string]string{"N": "0"}, func(e *Env) any { return e.PositiveInt("N", 90) }, nil, "N must be a positive whole number"},
		{"int text", map[string]string{"N": "ninety"}, func(e *Env) any { return e.PositiveInt("N", 90) }, nil, "N must be a positive whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			failed, logs := run(t, tt.env, func(e *Env) { got = tt.read(e) })
			if tt.failLog != "" {
				if !failed || !strings.Contains(logs, tt.failLog) {
					t.Errorf("failed=%v logs=%s; want exit with %q", failed, logs, tt.failLog)
				}
				return
			}
			if failed || got != tt.want {
				t.Errorf("= %v (failed %v), want %v", got, failed, tt.want)
			}
		})
	}
}

// A call to a dependency that never answers gives up CallMargin before the
// invocation's deadline, with an error the function can log, count and
// report, for every client the configuration makes (DynamoDB and SNS here,
// the notifier's two).
func TestAWSCallsEndBeforeTheDeadline(t *testing.T) {
	endpoint := emulatortest.StalledEndpoint(t)
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ENDPOINT_URL_SNS": endpoint, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		t.Setenv(k, v)
	}
	var cfg aws.Config
	if failed, logs := run(t, nil, func(e *Env) { cfg = e.AWS() }); failed {
		t.Fatalf("AWS(): %s", logs)
	}
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"dynamodb UpdateItem", func(ctx context.Context) error {
			_, err := dynamodb.NewFromConfig(cfg).UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String("StreamStateTable"),
				Key:       map[string]ddbtypes.AttributeValue{"streamId": &ddbtypes.AttributeValueMemberS{Value: "s1"}},
			})
			return err
		}},
		{"sns Publish", func(ctx context.Context) error {
			_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{
				TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:StreamLiveTopic"), Message: aws.String("m"),
			})
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			// Lambda's context: it ends at the function's timeout.
			ctx, cancel := context.WithTimeout(context.Background(), CallMargin+500*time.Millisecond)
			defer cancel()
			err := c.call(ctx)
			if ctx.Err() != nil {
				t.Fatalf("the call outlived the invocation's deadline: %v", err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want a deadline exceeded", err)
			}
		})
	}
}
