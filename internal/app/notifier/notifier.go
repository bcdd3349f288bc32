// Package notifier assembles the notifier function (the events table's
// DynamoDB stream, and the held disconnects' checks from their SQS queue):
// the stream state table, the alert routes and rules, the SNS publisher,
// the change feed, the check queue and the metrics. fastpixctl's replay and
// redrive use the same processor.
package notifier

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// The environment variables the notifier reads.
const (
	EnvStateTable        = "STATE_TABLE"
	EnvAlertRoutes       = "ALERT_ROUTES"
	EnvPublishTestEvents = "PUBLISH_TEST_EVENTS"
	// EnvClockSkewTolerance is how many seconds ahead of the receive time
	// an event's createdAt is trusted (notify.DefaultClockSkewTolerance
	// when unset).
	EnvClockSkewTolerance = "CLOCK_SKEW_TOLERANCE_SECONDS"
	EnvChangesTopic       = "CHANGES_TOPIC_ARN"
	// EnvCheckQueueURL is the queue of the held disconnects' checks. The
	// rules' settings are read under alertrules.EnvGraceSeconds,
	// EnvFlapThreshold and EnvFlapWindowMinutes.
	EnvCheckQueueURL = "DISCONNECT_CHECK_QUEUE_URL"
)

// Config is the notifier's configuration.
type Config struct {
	StateTable string
	// Routes maps event types to topic ARNs; empty: state is kept, no
	// alert is published.
	Routes alerts.Routes
	// PublishTestEvents publishes alerts about test streams too (with the
	// attribute test=true).
	PublishTestEvents bool
	// ClockSkewTolerance is how far ahead of the receive time createdAt is
	// trusted; beyond it an event is ordered by its receive time.
	ClockSkewTolerance time.Duration
	// ChangesTopicARN is the change feed's topic: every applied status
	// change of a stream or simulcast target is published there; empty:
	// none is.
	ChangesTopicARN string
	// Rules are the alert rules' settings: the disconnect grace, the flap
	// threshold and window.
	Rules alertrules.Settings
	// CheckQueueURL is the held disconnects' queue. Without it no
	// disconnect can be held: each is alerted at once (grace 0), as
	// fastpixctl's redrive does when not given one.
	CheckQueueURL string
	// CheckQueue sends the checks; nil: SQS, through the AWS configuration.
	// It is not read from the environment: the local stack gives goaws'
	// query-protocol client, which the SDK's SQS client cannot speak to.
	CheckQueue checkqueue.SendAPI
}

// ConfigFromEnv reads the configuration through getenv; a missing or
// malformed setting is an error naming the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	table, err1 := lambdaenv.Required(getenv, EnvStateTable)
	publish, err2 := lambdaenv.Bool(getenv, EnvPublishTestEvents, true)
	routes, err3 := alerts.ParseRoutes(getenv(EnvAlertRoutes))
	if err3 != nil {
		err3 = fmt.Errorf("%s: %w", EnvAlertRoutes, err3)
	}
	skew, err4 := lambdaenv.PositiveInt(getenv, EnvClockSkewTolerance, int(notify.DefaultClockSkewTolerance/time.Second))
	rules, err5 := alertrules.SettingsFromEnv(getenv)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return Config{}, fmt.Errorf("notifier: %w", err)
	}
	return Config{StateTable: table, Routes: routes, PublishTestEvents: publish, ClockSkewTolerance: time.Duration(skew) * time.Second,
		ChangesTopicARN: getenv(EnvChangesTopic), Rules: rules, CheckQueueURL: getenv(EnvCheckQueueURL)}, nil
}

// Processor builds what handles one stored event, and returns the state
// store it keeps, which replay reads too. log nil: slog.Default().
func Processor(cfg Config, awsCfg aws.Config, log *slog.Logger) (*notify.Notifier, *streamstate.Store, error) {
	if cfg.StateTable == "" {
		return nil, nil, errors.New("notifier: no state table")
	}
	if err := cfg.Rules.Validate(); err != nil {
		return nil, nil, fmt.Errorf("notifier: %w", err)
	}
	store := &streamstate.Store{Client: dynamodb.NewFromConfig(awsCfg), Table: cfg.StateTable}
	publisher := &alerts.SNSPublisher{Client: sns.NewFromConfig(awsCfg)}
	settings := cfg.Rules
	if cfg.CheckQueueURL == "" {
		settings.Grace = 0
	}
	var queue checkqueue.SendAPI = cfg.CheckQueue
	if queue == nil {
		queue = sqs.NewFromConfig(awsCfg)
	}
	n := &notify.Notifier{
		State:              store,
		Publisher:          publisher,
		Routes:             cfg.Routes,
		SkipTestEvents:     !cfg.PublishTestEvents,
		ClockSkewTolerance: cfg.ClockSkewTolerance,
		Rules:              &notify.Rules{Settings: settings, Store: store, Queue: &checkqueue.SQS{Client: queue, URL: cfg.CheckQueueURL}},
		Logger:             log,
	}
	if cfg.ChangesTopicARN != "" {
		n.Changes = &changefeed.Feed{Publisher: publisher, TopicARN: cfg.ChangesTopicARN}
	}
	return n, store, nil
}

// keepConnections is awsCfg with n idle connections kept per host (the
// SDK keeps 10) when it uses the SDK's own HTTP client: the handler has up
// to n calls to DynamoDB and to SNS in flight, and a connection closed
// after one burst is a new TLS handshake, one more round trip, in the next.
// A client of the caller's own is left as it is.
func keepConnections(awsCfg aws.Config, n int) aws.Config {
	c, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient)
	if awsCfg.HTTPClient == nil {
		c, ok = awshttp.NewBuildableClient(), true
	}
	if ok {
		awsCfg.HTTPClient = c.WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, n)
		})
	}
	return awsCfg
}

// New builds the notifier's stream handler. Its log lines go to log, its
// metrics (EMF lines) to metricsOut: os.Stdout in Lambda, nil to drop them.
func New(cfg Config, awsCfg aws.Config, log *slog.Logger, metricsOut io.Writer) (*ddbstream.Handler, error) {
	if log == nil {
		log = slog.Default()
	}
	n, _, err := Processor(cfg, keepConnections(awsCfg, ddbstream.DefaultMaxConcurrency), log)
	if err != nil {
		return nil, err
	}
	if len(cfg.Routes) == 0 {
		log.Warn(EnvAlertRoutes + " is empty: state is kept, no alert is published")
	}
	if cfg.ChangesTopicARN == "" {
		log.Warn(EnvChangesTopic + " is empty: no status change is published to the change feed")
	}
	if cfg.CheckQueueURL == "" && cfg.Rules.Grace > 0 {
		log.Warn(EnvCheckQueueURL + " is not set: no disconnect can be held, each is alerted at once")
	}
	log.Info("notifier configured", "stateTable", cfg.StateTable, "routedTypes", cfg.Routes.Types(), "publishTestEvents", cfg.PublishTestEvents,
		"clockSkewTolerance", cfg.ClockSkewTolerance.String(), "changesTopic", cfg.ChangesTopicARN,
		"disconnectGrace", n.Rules.Settings.Grace.String(), "flapThreshold", cfg.Rules.FlapThreshold, "flapWindow", cfg.Rules.FlapWindow.String())
	return &ddbstream.Handler{
		Processor: n,
		Logger:    log,
		Observer:  metrics.Notifier{E: &metrics.Emitter{W: metricsOut, Function: "notifier"}},
	}, nil
}

// NewChecks builds the handler of the held disconnects' checks (the
// notifier's SQS event source): the same processor, rules and routes as
// New's.
func NewChecks(cfg Config, awsCfg aws.Config, log *slog.Logger) (*checkqueue.Handler, error) {
	if log == nil {
		log = slog.Default()
	}
	n, _, err := Processor(cfg, awsCfg, log)
	if err != nil {
		return nil, err
	}
	return &checkqueue.Handler{Checker: n, Logger: log}, nil
}
