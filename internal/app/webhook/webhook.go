// Package webhook assembles the webhook function (POST /webhooks/fastpix):
// the events table, the signing secrets behind a key cache, and the metrics.
package webhook

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/secrets"
)

// The environment variables the webhook reads, besides secrets.EnvSecretARN
// and secrets.EnvSecret.
const (
	EnvEventsTable   = "EVENTS_TABLE"
	EnvRetentionDays = "RETENTION_DAYS"
	// EnvClockSkewTolerance is how many seconds ahead of the receive time
	// an event's createdAt is trusted to order it in its stream's log
	// (eventstore.DefaultClockSkewTolerance when unset).
	EnvClockSkewTolerance = "CLOCK_SKEW_TOLERANCE_SECONDS"
)

// Config is the webhook's configuration.
type Config struct {
	EventsTable string
	// Retention is how long a stored event is kept (its TTL).
	Retention time.Duration
	// ClockSkewTolerance is how far ahead of the receive time createdAt is
	// trusted; beyond it an event is ordered by its receive time.
	ClockSkewTolerance time.Duration
	// Secret is where the signing secrets are.
	Secret secrets.Source
}

// ConfigFromEnv reads the configuration through getenv. A missing or
// malformed setting is an error naming the variable; a missing secret is
// not (see New).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	table, err1 := lambdaenv.Required(getenv, EnvEventsTable)
	days, err2 := lambdaenv.PositiveInt(getenv, EnvRetentionDays, int(eventstore.DefaultRetention/(24*time.Hour)))
	skew, err3 := lambdaenv.PositiveInt(getenv, EnvClockSkewTolerance, int(eventstore.DefaultClockSkewTolerance/time.Second))
	if err := errors.Join(err1, err2, err3); err != nil {
		return Config{}, fmt.Errorf("webhook: %w", err)
	}
	return Config{
		EventsTable:        table,
		Retention:          time.Duration(days) * 24 * time.Hour,
		ClockSkewTolerance: time.Duration(skew) * time.Second,
		Secret:             secrets.SourceFromEnv(getenv),
	}, nil
}

// New builds the webhook's handler. Its log lines go to log, its metrics
// (EMF lines) to metricsOut: os.Stdout in Lambda, nil to drop them.
//
// A configuration without a signing secret is not refused: probes are still
// answered, and every event is refused with a 5xx (so FastPix retries) until
// a secret is configured; New logs what to set.
func New(cfg Config, awsCfg aws.Config, log *slog.Logger, metricsOut io.Writer) (*httpapi.Webhook, error) {
	switch {
	case cfg.EventsTable == "":
		return nil, errors.New("webhook: no events table")
	case cfg.Retention <= 0:
		return nil, fmt.Errorf("webhook: retention %v is not positive", cfg.Retention)
	}
	if log == nil {
		log = slog.Default()
	}
	if !cfg.Secret.Configured() {
		log.Error("no signing secret: set " + secrets.EnvSecretARN + " or " + secrets.EnvSecret + "; events are refused until then")
	}
	// The Receiver finds Refresh by a run-time assertion: this declaration
	// makes losing it a build failure, not a silent end of secret rotation.
	observer := metricsObserver{e: &metrics.Emitter{W: metricsOut, Function: "webhook"}}
	var keys interface {
		ingest.Keys
		ingest.Refresher
	} = &ingest.CachedKeys{
		Load: cfg.Secret.Loader(func() secrets.GetSecretValueAPI {
			return secretsmanager.NewFromConfig(awsCfg)
		}),
		// A malformed element of "new,old" is left out, said and counted;
		// the good secrets keep verifying.
		BadSecret: func(err error) {
			log.Error("signing secret skipped", "error", err.Error())
			observer.ObserveBadSecrets()
		},
	}
	return &httpapi.Webhook{
		Receiver: &ingest.Receiver{
			Keys:               keys,
			Store:              &eventstore.DynamoDB{Client: dynamodb.NewFromConfig(awsCfg), Table: cfg.EventsTable},
			Retention:          cfg.Retention,
			ClockSkewTolerance: cfg.ClockSkewTolerance,
		},
		Logger:   log,
		Observer: observer,
	}, nil
}
