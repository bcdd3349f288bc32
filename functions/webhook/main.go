// Command webhook is the Lambda behind POST /webhooks/fastpix: it verifies,
// redacts and stores each FastPix event once.
package main

import (
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/secrets"
)

func main() {
	env := lambdaenv.Start()
	cfg := env.AWS()
	table := env.Required("EVENTS_TABLE")
	retentionDays := env.PositiveInt("RETENTION_DAYS", int(eventstore.DefaultRetention/(24*time.Hour)))
	if env.Getenv(secrets.EnvSecretARN) == "" && env.Getenv(secrets.EnvSecret) == "" {
		// Not fatal: probes are still answered, and every event is refused
		// with a 5xx (so FastPix retries) until a secret is configured.
		env.Log.Error("no signing secret: set " + secrets.EnvSecretARN + " or " + secrets.EnvSecret + "; events are refused until then")
	}
	keys := &ingest.CachedKeys{Load: secrets.FromEnvironment(func() secrets.GetSecretValueAPI {
		return secretsmanager.NewFromConfig(cfg)
	})}

	h := &httpapi.Webhook{
		Receiver: &ingest.Receiver{
			Keys:      keys,
			Store:     &eventstore.DynamoDB{Client: dynamodb.NewFromConfig(cfg), Table: table},
			Retention: time.Duration(retentionDays) * 24 * time.Hour,
		},
		Logger:   env.Log,
		Observer: metrics.Webhook{E: &metrics.Emitter{W: os.Stdout, Function: "webhook"}},
	}
	lambda.Start(h.Handle)
}
