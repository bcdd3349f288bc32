// Package lambdaenv is what every function's main does before wiring: a
// JSON logger on standard output (Lambda ships it to CloudWatch Logs), the
// AWS configuration, and settings read from the environment. A setting that
// is missing or malformed stops the cold start with a log line that names
// it, rather than failing on the first event.
package lambdaenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"

	"github.com/streamhook/fastpix-receiver/pkg/deadline"
)

// Env is a function's process: its logger and environment. Exit ends the
// process after logging why; tests replace it.
type Env struct {
	Log    *slog.Logger
	Getenv func(string) string
	Exit   func(code int)
}

// Start returns the Env of a function: a JSON logger, also made the
// default, reading the process environment.
func Start() *Env {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(log)
	return &Env{Log: log, Getenv: os.Getenv, Exit: os.Exit}
}

// Check stops the cold start when err is not nil, logging what failed.
func (e *Env) Check(what string, err error) {
	if err != nil {
		e.Log.Error(what, "error", err.Error())
		e.Exit(1)
	}
}

// AWS loads the AWS configuration (region, credentials, and endpoint
// overrides such as AWS_ENDPOINT_URL_DYNAMODB for local runs). Every call
// of a client made from it, retries included, ends CallMargin before the
// deadline of the context it is given (see WithinDeadline).
func (e *Env) AWS() aws.Config {
	cfg, err := config.LoadDefaultConfig(context.Background())
	e.Check("load AWS configuration", err)
	cfg.APIOptions = append(cfg.APIOptions, WithinDeadline(CallMargin))
	return cfg
}

// CallMargin is what an AWS call leaves of its invocation's time when it
// gives up: far more than reporting the failure takes.
const CallMargin = time.Second

// WithinDeadline is an AWS client option that ends each call, retries
// included, margin before the deadline of its context (deadline.Reserve:
// unless the caller reserved its own margin already). Lambda's context
// ends when the function times out; a call to a dependency that stalls
// would otherwise last until then, and Lambda would kill the function before
// it logs the failure, counts it in its metrics or reports which records
// to retry. A context without a deadline is left as it is.
func WithinDeadline(margin time.Duration) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("WithinDeadline",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				ctx, cancel := deadline.Reserve(ctx, margin)
				defer cancel()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// Required returns the value of name, which must be set.
func Required(getenv func(string) string, name string) (string, error) {
	v := getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is not set", name)
	}
	return v, nil
}

// Bool returns name as a boolean, def when unset.
func Bool(getenv func(string) string, name string, def bool) (bool, error) {
	return parse(getenv, name, def, "true or false", func(s string) (bool, bool) {
		b, err := strconv.ParseBool(s)
		return b, err == nil
	})
}

// PositiveInt returns name as a whole number above zero, def when unset.
func PositiveInt(getenv func(string) string, name string, def int) (int, error) {
	return parse(getenv, name, def, "a positive whole number", func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n > 0
	})
}

// parse reads name with conv, def when unset; the error says what the
// value must be and what it was.
func parse[T any](getenv func(string) string, name string, def T, must string, conv func(string) (T, bool)) (T, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	v, ok := conv(s)
	if !ok {
		return def, fmt.Errorf("%s must be %s, got %q", name, must, s)
	}
	return v, nil
}
