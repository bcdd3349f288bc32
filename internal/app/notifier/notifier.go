// Package notifier assembles the notifier function (the events table's
// DynamoDB stream, and the held disconnects' checks from their SQS queue):
// the stream state table, the alert routes and rules, the SNS publisher,
// the change feed, the check queue and the metrics. fastpixctl's replay and
// redrive use the same processor.
package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

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
	"github.com/streamhook/fastpix-receiver/pkg/deadletter"
	"github.com/streamhook/fastpix-receiver/pkg/eventsource"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// The environment variables the notifier reads.
const (
	EnvEventsTable       = "EVENTS_TABLE"
	EnvStateTable        = "STATE_TABLE"
	EnvAlertRoutes       = "ALERT_ROUTES"
	EnvPublishTestEvents = "PUBLISH_TEST_EVENTS"
	EnvChangesTopic      = "CHANGES_TOPIC_ARN"
	// EnvCheckQueueURL is the queue of the held disconnects' checks. The
	// rules' settings are read under alertrules.EnvGraceSeconds,
	// EnvFlapThreshold and EnvFlapWindowMinutes.
	EnvCheckQueueURL = "DISCONNECT_CHECK_QUEUE_URL"
	// EnvDeadLetterQueueURL is the notifier's dead-letter queue, where an
	// alert SNS refused for good is kept for redrive.
	EnvDeadLetterQueueURL = "DEAD_LETTER_QUEUE_URL"
)

// Config is the notifier's configuration.
type Config struct {
	// EventsTable is each stream's log, StateTable their states.
	EventsTable string
	StateTable  string
	// Routes maps event types to topic ARNs; empty: state is kept, no
	// alert is published.
	Routes alerts.Routes
	// PublishTestEvents publishes alerts about test streams too (with the
	// attribute test=true).
	PublishTestEvents bool
	// ChangesTopicARN is the change feed's topic: every applied status
	// change of a stream or simulcast target is published there; empty:
	// none is.
	ChangesTopicARN string
	// Rules are the alert rules' settings: the disconnect grace, the flap
	// threshold and window.
	Rules alertrules.Settings
	// CheckQueueURL is the held disconnects' queue; required unless the
	// grace is 0.
	CheckQueueURL string
	// DeadLetterQueueURL is the notifier's dead-letter queue; empty: an
	// alert SNS refuses for good is retried like any failure.
	DeadLetterQueueURL string
	// Queues sends the checks and the dead letters; nil: SQS, through the
	// AWS configuration. It is not read from the environment: the local
	// stack gives goaws' query-protocol client, which the SDK's SQS client
	// cannot speak to.
	Queues checkqueue.SendAPI
}

// ConfigFromEnv reads the configuration through getenv; a missing or
// malformed setting is an error naming the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	table, err1 := lambdaenv.Required(getenv, EnvStateTable)
	events, err4 := lambdaenv.Required(getenv, EnvEventsTable)
	publish, err2 := lambdaenv.Bool(getenv, EnvPublishTestEvents, true)
	routes, err3 := alerts.ParseRoutes(getenv(EnvAlertRoutes))
	if err3 != nil {
		err3 = fmt.Errorf("%s: %w", EnvAlertRoutes, err3)
	}
	rules, err5 := alertrules.SettingsFromEnv(getenv)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return Config{}, fmt.Errorf("notifier: %w", err)
	}
	return Config{EventsTable: events, StateTable: table, Routes: routes, PublishTestEvents: publish,
		ChangesTopicARN: getenv(EnvChangesTopic), Rules: rules, CheckQueueURL: getenv(EnvCheckQueueURL),
		DeadLetterQueueURL: getenv(EnvDeadLetterQueueURL)}, nil
}

// Notifier builds the one notifier every caller uses: the function's two
// event sources, the local stack, fastpixctl's replay and redrive, and the
// proofs. log nil: slog.Default(); observer nil: no metrics.
func Notifier(cfg Config, awsCfg aws.Config, log *slog.Logger, observer notify.Observer) (*notify.Notifier, error) {
	if cfg.StateTable == "" || cfg.EventsTable == "" {
		return nil, errors.New("notifier: the events table and the state table are both required")
	}
	if err := cfg.Rules.Validate(); err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	if cfg.CheckQueueURL == "" && cfg.Rules.Grace > 0 {
		return nil, fmt.Errorf("notifier: a disconnect grace of %s needs the check queue (%s)", cfg.Rules.Grace, EnvCheckQueueURL)
	}
	if log == nil {
		log = slog.Default()
	}
	ddb := dynamodb.NewFromConfig(awsCfg)
	publisher := &alerts.SNSPublisher{Client: sns.NewFromConfig(awsCfg)}
	n := &notify.Notifier{
		Log:            eventstore.NewLog(ddb, cfg.EventsTable),
		State:          &streamstate.Store{Client: ddb, Table: cfg.StateTable},
		Publisher:      publisher,
		Routes:         cfg.Routes,
		Rules:          cfg.Rules,
		SkipTestEvents: !cfg.PublishTestEvents,
		Logger:         log,
		Observer:       observer,
	}
	var queues checkqueue.SendAPI = cfg.Queues
	if queues == nil {
		queues = sqs.NewFromConfig(awsCfg)
	}
	if cfg.CheckQueueURL != "" {
		n.Queue = &checkqueue.SQS{Client: queues, URL: cfg.CheckQueueURL}
	}
	if cfg.DeadLetterQueueURL != "" {
		n.DeadLetters = &deadletter.Queue{Client: queues, URL: cfg.DeadLetterQueueURL}
	}
	if cfg.ChangesTopicARN != "" {
		n.Changes = &changefeed.Feed{Publisher: publisher, TopicARN: cfg.ChangesTopicARN}
	}
	return n, nil
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

// Function is the notifier function: one notifier behind its two event
// sources.
type Function struct {
	Notifier *notify.Notifier
	// Stream handles the events table's stream records, Checks the held
	// disconnects' checks; Handle routes an invocation to either.
	Stream *ddbstream.Handler
	Checks *checkqueue.Handler
}

// Handle is the Lambda handler of both event sources.
func (f *Function) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	return (&eventsource.Mux{DynamoDB: f.Stream.Handle, SQS: f.Checks.Handle}).Handle(ctx, raw)
}

// New builds the notifier function. Its log lines go to log, its metrics
// (EMF lines) to metricsOut: os.Stdout in Lambda, nil to drop them.
func New(cfg Config, awsCfg aws.Config, log *slog.Logger, metricsOut io.Writer) (*Function, error) {
	if log == nil {
		log = slog.Default()
	}
	observer := metricsObserver{e: &metrics.Emitter{W: metricsOut, Function: "notifier"}}
	n, err := Notifier(cfg, keepConnections(awsCfg, ddbstream.DefaultMaxConcurrency), log, observer)
	if err != nil {
		return nil, err
	}
	if len(cfg.Routes) == 0 {
		log.Warn(EnvAlertRoutes + " is empty: state is kept, no alert is published")
	}
	if cfg.ChangesTopicARN == "" {
		log.Warn(EnvChangesTopic + " is empty: no status change is published to the change feed")
	}
	log.Info("notifier configured", "eventsTable", cfg.EventsTable, "stateTable", cfg.StateTable, "routedTypes", cfg.Routes.Types(),
		"publishTestEvents", cfg.PublishTestEvents, "changesTopic", cfg.ChangesTopicARN,
		"disconnectGrace", cfg.Rules.Grace.String(), "flapThreshold", cfg.Rules.FlapThreshold, "flapWindow", cfg.Rules.FlapWindow.String())
	return &Function{
		Notifier: n,
		Stream:   &ddbstream.Handler{Processor: n, Logger: log, Observer: observer},
		Checks:   &checkqueue.Handler{Checker: n, Logger: log},
	}, nil
}
