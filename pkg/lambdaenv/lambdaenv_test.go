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

	"github.com/streamhook/fastpix-receiver/internal/testenv"
)

func TestSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		read    func(getenv func(string) string) (any, error)
		want    any
		wantErr string
	}{
		{"required set", map[string]string{"T": "tbl"}, func(g func(string) string) (any, error) { return Required(g, "T") }, "tbl", ""},
		{"required missing", nil, func(g func(string) string) (any, error) { return Required(g, "T") }, nil, "T is not set"},
		{"bool default", nil, func(g func(string) string) (any, error) { return Bool(g, "B", true) }, true, ""},
		{"bool false", map[string]string{"B": "false"}, func(g func(string) string) (any, error) { return Bool(g, "B", true) }, false, ""},
		{"bool bad", map[string]string{"B": "yes please"}, func(g func(string) string) (any, error) { return Bool(g, "B", true) }, nil, `B must be true or false, got "yes please"`},
		{"int default", nil, func(g func(string) string) (any, error) { return PositiveInt(g, "N", 90) }, 90, ""},
		{"int set", map[string]string{"N": "30"}, func(g func(string) string) (any, error) { return PositiveInt(g, "N", 90) }, 30, ""},
		{"int zero", map[string]string{"N": "0"}, func(g func(string) string) (any, error) { return PositiveInt(g, "N", 90) }, nil, `N must be a positive whole number, got "0"`},
		{"int text", map[string]string{"N": "ninety"}, func(g func(string) string) (any, error) { return PositiveInt(g, "N", 90) }, nil, `N must be a positive whole number, got "ninety"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.read(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// exited stops the code under test where os.Exit would have.
type exited struct{}

// run runs f on an Env reading env, and reports whether it exited and what
// it logged.
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

func TestCheckStopsTheColdStart(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{{"no error", nil}, {"an error", errors.New("STATE_TABLE is not set")}} {
		t.Run(tt.name, func(t *testing.T) {
			failed, logs := run(t, nil, func(e *Env) { e.Check("configuration", tt.err) })
			if failed != (tt.err != nil) {
				t.Fatalf("exited = %v for %v", failed, tt.err)
			}
			if tt.err != nil && !strings.Contains(logs, "STATE_TABLE is not set") {
				t.Errorf("log %s does not say why", logs)
			}
		})
	}
}

// A call to a dependency that never answers gives up CallMargin before the
// invocation's deadline, with an error the function can log, count and
// report, for every client the configuration makes (DynamoDB and SNS here,
// the notifier's two).
func TestAWSCallsEndBeforeTheDeadline(t *testing.T) {
	endpoint := testenv.StalledEndpoint(t)
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
