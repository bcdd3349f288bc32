// Command webhook is the Lambda behind POST /webhooks/fastpix: it verifies,
// redacts and stores each FastPix event once.
package main

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/secrets"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(log)

	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	table := os.Getenv("EVENTS_TABLE")
	if table == "" {
		log.Error("EVENTS_TABLE is not set")
		os.Exit(1)
	}
	retention := eventstore.DefaultRetention
	if s := os.Getenv("RETENTION_DAYS"); s != "" {
		days, err := strconv.Atoi(s)
		if err != nil || days <= 0 {
			log.Error("RETENTION_DAYS must be a positive whole number", "value", s)
			os.Exit(1)
		}
		retention = time.Duration(days) * 24 * time.Hour
	}
	if os.Getenv(secrets.EnvSecretARN) == "" && os.Getenv(secrets.EnvSecret) == "" {
		// Not fatal: probes are still answered, and every event is refused
		// with a 5xx (so FastPix retries) until a secret is configured.
		log.Error("no signing secret: set " + secrets.EnvSecretARN + " or " + secrets.EnvSecret + "; events are refused until then")
	}
	keys := &ingest.CachedKeys{Load: secrets.FromEnvironment(func() secrets.GetSecretValueAPI {
		return secretsmanager.NewFromConfig(cfg)
	})}

	h := &httpapi.Webhook{
		Receiver: &ingest.Receiver{
			Keys:      keys,
			Store:     &eventstore.DynamoDB{Client: dynamodb.NewFromConfig(cfg), Table: table},
			Retention: retention,
		},
		Logger:   log,
		Observer: metrics.Webhook{E: &metrics.Emitter{W: os.Stdout, Function: "webhook"}},
	}
	lambda.Start(h.Handle)
}
