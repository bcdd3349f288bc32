package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamhook/fastpix-receiver/internal/cli"
)

// Environment variables `fastpixctl board` reads its defaults from.
const (
	// EnvAPIURL is the query API's fleet listing, the stack's
	// StreamsApiUrl output (…/streams).
	EnvAPIURL = "STREAMS_API_URL"
	// EnvTopic is the change feed's topic, the StreamChangesTopicArn
	// output (the notifier's own variable).
	EnvTopic = "CHANGES_TOPIC_ARN"
)

// RunCommand is `fastpixctl board`: it reads its flags from args and
// talks to AWS with the configuration awsConfig loads, or to the local
// stack (`make ctl-local ARGS=board`) when AWS_ENDPOINT_URL_SQS points at
// goaws, which speaks SQS's query protocol.
func RunCommand(ctx context.Context, args []string, out io.Writer, awsConfig func(context.Context) (aws.Config, error)) error {
	c := cli.New("board")
	addr := c.String("addr", DefaultAddr, "where the board listens; keep it on 127.0.0.1 (the board shows the whole fleet to whoever reaches it)")
	api := c.Need("api", EnvAPIURL, "the StreamsApiUrl output", "the query API's fleet listing, the stack's StreamsApiUrl output")
	topic := c.Need("topic", EnvTopic, "the StreamChangesTopicArn output", "the change feed topic, the StreamChangesTopicArn output")
	workspace := c.String("workspace", "", "show only this workspace's streams (a filter policy on the board's subscription)")
	protocol := c.String("sqs-protocol", "auto", "json (SQS), query (goaws, the local stack), or auto: query when AWS_ENDPOINT_URL_SQS is set")
	// Every missing flag at once, as fastpixctl's other commands say it.
	if err := c.Parse(args); err != nil {
		return err
	}
	cfg, err := awsConfig(ctx)
	if err != nil {
		return err
	}
	var queues Queues
	endpoint := os.Getenv("AWS_ENDPOINT_URL_SQS")
	switch p := *protocol; {
	case p == "query" || (p == "auto" && endpoint != ""):
		if endpoint == "" {
			return errors.New("-sqs-protocol query needs AWS_ENDPOINT_URL_SQS (the emulator's URL)")
		}
		queues = &QueryQueues{Endpoint: endpoint}
	case p == "json" || p == "auto":
		queues = &SDKQueues{Client: sqs.NewFromConfig(cfg)}
	default:
		return fmt.Errorf("-sqs-protocol %q: json, query or auto", p)
	}
	if !IsLoopbackAddr(*addr) {
		fmt.Fprintf(out, "warning: -addr %s is reachable from other machines: anyone who reaches it sees the whole fleet, unauthenticated\n", *addr)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return Run(ctx, Config{
		Addr:      *addr,
		Fleet:     &FleetAPI{URL: *api, Credentials: cfg.Credentials, Region: cfg.Region},
		Follower:  &Follower{SNS: sns.NewFromConfig(cfg), Queues: queues, TopicARN: *topic, Workspace: *workspace, Log: log},
		Workspace: *workspace,
		Log:       log,
		Ready: func(url string, streams int) {
			fmt.Fprintf(out, "board: %s  (%d streams; following the change feed; Ctrl-C stops and removes the board's queue)\n", url, streams)
		},
	})
}
