// Command streams is the Lambda behind the query routes: GET
// /streams/{streamId} (the stream's state) and GET
// /streams/{streamId}/events (its events, page by page). It only reads.
// internal/app/streams says how it is assembled.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamhook/fastpix-receiver/internal/app/streams"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
)

func main() {
	env := lambdaenv.Start()
	cfg, err := streams.ConfigFromEnv(env.Getenv)
	env.Check("configuration", err)
	h, err := streams.New(cfg, env.AWS(), env.Log)
	env.Check("wiring", err)
	lambda.Start(h.Handle)
}
