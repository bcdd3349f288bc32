// Command notifier is the Lambda on the events table's DynamoDB stream: it
// keeps each stream's state and publishes notable transitions to SNS.
package main

import (
	"context"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(log)

	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	table := os.Getenv("STATE_TABLE")
	if table == "" {
		log.Error("STATE_TABLE is not set")
		os.Exit(1)
	}
	routes, err := alerts.ParseRoutes(os.Getenv("ALERT_ROUTES"))
	if err != nil {
		log.Error("ALERT_ROUTES", "error", err)
		os.Exit(1)
	}
	if len(routes) == 0 {
		log.Warn("ALERT_ROUTES is empty: state is kept, no alert is published")
	}
	publishTests := true
	if s := os.Getenv("PUBLISH_TEST_EVENTS"); s != "" {
		if publishTests, err = strconv.ParseBool(s); err != nil {
			log.Error("PUBLISH_TEST_EVENTS must be true or false", "value", s)
			os.Exit(1)
		}
	}
	log.Info("notifier configured", "stateTable", table, "routedTypes", routes.Types(), "publishTestEvents", publishTests)

	h := &ddbstream.Handler{
		Processor: &notify.Notifier{
			State:          &streamstate.Store{Client: dynamodb.NewFromConfig(cfg), Table: table},
			Publisher:      &alerts.SNSPublisher{Client: sns.NewFromConfig(cfg)},
			Routes:         routes,
			SkipTestEvents: !publishTests,
			Logger:         log,
		},
		Logger:   log,
		Observer: metrics.Notifier{E: &metrics.Emitter{W: os.Stdout, Function: "notifier"}},
	}
	lambda.Start(h.Handle)
}
