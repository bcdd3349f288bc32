// Package streams assembles the query function (GET /streams/{streamId}
// and its events, GET /streams?status=…): it only reads the events table's
// byStream index, the stream state table and its byStatus index.
package streams

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// The environment variables the query function reads.
const (
	EnvEventsTable = "EVENTS_TABLE"
	EnvStateTable  = "STATE_TABLE"
)

// Config is the query function's configuration.
type Config struct {
	EventsTable string
	StateTable  string
}

// ConfigFromEnv reads the configuration through getenv; a missing setting
// is an error naming the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	events, err1 := lambdaenv.Required(getenv, EnvEventsTable)
	state, err2 := lambdaenv.Required(getenv, EnvStateTable)
	if err := errors.Join(err1, err2); err != nil {
		return Config{}, fmt.Errorf("streams: %w", err)
	}
	return Config{EventsTable: events, StateTable: state}, nil
}

// New builds the query routes' handler; log nil: slog.Default().
func New(cfg Config, awsCfg aws.Config, log *slog.Logger) (*httpapi.Streams, error) {
	if cfg.EventsTable == "" || cfg.StateTable == "" {
		return nil, errors.New("streams: the events and the state table must both be named")
	}
	client := dynamodb.NewFromConfig(awsCfg)
	return &httpapi.Streams{
		Events: &eventstore.Reader{Client: client, Table: cfg.EventsTable},
		State:  &streamstate.Store{Client: client, Table: cfg.StateTable},
		Fleet:  &streamstate.Fleet{Client: client, Table: cfg.StateTable},
		Logger: log,
	}, nil
}
