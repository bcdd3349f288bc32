// Command fastpixctl is the operator's tool for the FastPix receiver:
//
//	fastpixctl replay  -stream ID | -from T -to T  [-apply]   bring streams up to date with their logs (dry run by default)
//	fastpixctl redrive -queue-url URL [-dry-run]              re-process the notifier's dead-letter queue
//	fastpixctl inspect -stream ID [-n 20]                     a stream's state and its last events
//	fastpixctl status [-status active,idle] [-watch]          the streams by status, with their simulcast targets
//	fastpixctl board [-addr 127.0.0.1:8080] [-workspace ID]   the live board in a browser: every stream and target as it changes
//	fastpixctl rotate-secret status|add|finish                rotate the webhook signing secret
//	fastpixctl migrate-events -from OLD_TABLE [-dry-run]      copy the events of the previous table layout into the log
//	fastpixctl subscribe -workspace W [-streams A,B] [-kinds K,..] -email|-sms|-https ADDR   who gets which alert
//	fastpixctl subscriptions                                 who gets what, and each topic's filter policies
//	fastpixctl unsubscribe -arn ARN                          remove one of those subscriptions
//
// It talks to AWS with the usual AWS environment (profile, region,
// credentials), or to the local stack when AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_SNS and AWS_ENDPOINT_URL_SQS point at it. Table, topic
// and secret names come from flags or from the variables the functions
// read (EVENTS_TABLE, STATE_TABLE, ALERT_ROUTES, PUBLISH_TEST_EVENTS,
// FASTPIX_WEBHOOK_SECRET_ARN), plus NOTIFIER_DLQ_URL for redrive and
// STREAMS_API_URL and CHANGES_TOPIC_ARN for the board.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamhook/fastpix-receiver/infra/board"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/app/notifier"
	"github.com/streamhook/fastpix-receiver/internal/cli"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

const usage = `fastpixctl: operate the FastPix receiver (see docs/operations.md)

  replay         bring streams up to date with their logs, as the notifier would (dry run unless -apply)
  redrive        re-process the batches in the notifier's dead-letter queue, re-send refused alerts
  inspect        print a stream's state and its last events
  status         the streams by status, with their simulcast targets (-watch: refreshed)
  board          the live board in a browser (http://127.0.0.1:8080): every stream and target as it changes
  rotate-secret  rotate the webhook signing secret: status | add | finish
  migrate-events copy the events of the previous table layout into the log (-from OLD_TABLE)
  subscribe      send one workspace's alerts (some streams, some kinds) to an email, phone or https endpoint
  subscriptions  who gets which alert: the alert topics' subscriptions and their filter policies
  unsubscribe    remove a subscription made with subscribe (-arn)

Run "fastpixctl <command> -h" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "replay":
		err = replay(ctx, args)
	case "redrive":
		err = redrive(ctx, args)
	case "inspect":
		err = inspect(ctx, args)
	case "status":
		err = ops.RunStatus(ctx, args, os.Stdout, awsConfig)
	case "board":
		err = board.RunCommand(ctx, args, os.Stdout, awsConfig)
	case "rotate-secret":
		err = rotateSecret(ctx, args, os.Stdin)
	case "migrate-events":
		err = ops.RunMigrateEvents(ctx, args, os.Stdout, awsConfig)
	case "subscribe":
		err = ops.RunSubscribe(ctx, args, os.Stdout, awsConfig)
	case "subscriptions":
		err = ops.RunSubscriptions(ctx, args, os.Stdout, awsConfig)
	case "unsubscribe":
		err = ops.RunUnsubscribe(ctx, args, os.Stdout, awsConfig)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		err = fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fastpixctl:", err)
		os.Exit(1)
	}
}

func awsConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// command is one subcommand's flags (cli.Command), whose parse also
// loads the AWS configuration the command will talk with.
type command struct{ *cli.Command }

func newCommand(name string) *command { return &command{cli.New(name)} }

// need declares a required string flag, defaulting to the environment
// variable env when env is not "".
func (c *command) need(name, env, usage string) *string { return c.Need(name, env, "", usage) }

// parse parses args, checks that every required flag has a value, and
// loads the AWS configuration.
func (c *command) parse(ctx context.Context, args []string) (aws.Config, error) {
	if err := c.Parse(args); err != nil {
		return aws.Config{}, err
	}
	return awsConfig(ctx)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil { // "-2h": relative to now
		return time.Now().Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("time %q: use RFC 3339 (2024-04-02T11:00:00Z) or a duration from now (-2h)", s)
	}
	return t, nil
}

// notifierFlags are the notifier's configuration, as replay and redrive
// need it: the flags below, and every other setting of the notifier
// function (DISCONNECT_GRACE_SECONDS, FLAP_THRESHOLD, FLAP_WINDOW_MINUTES,
// DISCONNECT_CHECK_QUEUE_URL, CHANGES_TOPIC_ARN) from the environment, as
// the function reads them, so replay and redrive decide what the live
// system decides.
type notifierFlags struct {
	events, state, routes, publishTests *string
}

func addNotifierFlags(fs *flag.FlagSet) notifierFlags {
	return notifierFlags{
		events:       fs.String("events-table", os.Getenv(notifier.EnvEventsTable), "events table (EVENTS_TABLE)"),
		state:        fs.String("state-table", os.Getenv(notifier.EnvStateTable), "stream state table (STATE_TABLE)"),
		routes:       fs.String("routes", os.Getenv(notifier.EnvAlertRoutes), "event type → topic ARN, JSON (ALERT_ROUTES)"),
		publishTests: fs.String("publish-test-events", os.Getenv(notifier.EnvPublishTestEvents), "publish alerts of test streams: true (default) or false (PUBLISH_TEST_EVENTS)"),
	}
}

// build assembles the notifier exactly as its Lambda is assembled
// (internal/app/notifier.Notifier), plus the events table replay and
// redrive read.
func (f notifierFlags) build(cfg aws.Config) (*notify.Notifier, *eventstore.RangeReader, error) {
	flags := map[string]string{
		notifier.EnvEventsTable:       *f.events,
		notifier.EnvStateTable:        *f.state,
		notifier.EnvAlertRoutes:       *f.routes,
		notifier.EnvPublishTestEvents: *f.publishTests,
	}
	ncfg, err := notifier.ConfigFromEnv(func(name string) string {
		if v, ok := flags[name]; ok {
			return v
		}
		return os.Getenv(name)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w (flags -events-table, -state-table, -routes, -publish-test-events; the rest from the environment)", err)
	}
	if endpoint := os.Getenv("AWS_ENDPOINT_URL_SQS"); endpoint != "" {
		// The local stack's goaws speaks SQS's query protocol only.
		ncfg.Queues = &ops.QueryQueue{Endpoint: endpoint}
	}
	n, err := notifier.Notifier(ncfg, cfg, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	return n, &eventstore.RangeReader{Client: dynamodb.NewFromConfig(cfg), Table: ncfg.EventsTable}, nil
}

func replay(ctx context.Context, args []string) error {
	c := newCommand("replay")
	nf := addNotifierFlags(c.FlagSet)
	stream := c.String("stream", "", "the stream's events (its log); without it, every event in -from..-to (a table scan)")
	from := c.String("from", "", "earliest occurredAt: RFC 3339, or a duration from now such as -6h")
	to := c.String("to", "", "latest occurredAt (default: now)")
	limit := c.Int("limit", eventstore.DefaultRangeLimit, "most events to process")
	apply := c.Bool("apply", false, "really update state and publish (default: dry run)")
	cfg, err := c.parse(ctx, args)
	if err != nil {
		return err
	}
	q := eventstore.RangeQuery{StreamID: *stream, Limit: *limit}
	if q.From, err = parseTime(*from); err != nil {
		return err
	}
	if q.To, err = parseTime(*to); err != nil {
		return err
	}
	if q.StreamID == "" && q.From.IsZero() {
		return errors.New("name a -stream, or a -from time (replaying every stored event is not what you want)")
	}
	n, events, err := nf.build(cfg)
	if err != nil {
		return err
	}
	r := &ops.Replayer{Events: events, Notifier: n, Out: os.Stdout}
	_, err = r.Replay(ctx, q, *apply)
	return err
}

func redrive(ctx context.Context, args []string) error {
	c := newCommand("redrive")
	nf := addNotifierFlags(c.FlagSet)
	queueURL := c.need("queue-url", "NOTIFIER_DLQ_URL", "the notifier's dead-letter queue URL")
	protocol := c.String("sqs-protocol", "auto", "json (SQS), query (goaws, the local stack), or auto: query when AWS_ENDPOINT_URL_SQS is set")
	dryRun := c.Bool("dry-run", false, "print the batches; process and delete nothing")
	cfg, err := c.parse(ctx, args)
	if err != nil {
		return err
	}
	u := *queueURL
	n, events, err := nf.build(cfg)
	if err != nil {
		return err
	}
	var q ops.Queue
	endpoint := os.Getenv("AWS_ENDPOINT_URL_SQS")
	switch p := *protocol; {
	case p == "query" || (p == "auto" && endpoint != ""):
		if endpoint == "" {
			return errors.New("-sqs-protocol query needs AWS_ENDPOINT_URL_SQS (the emulator's URL)")
		}
		q = &ops.QueryQueue{Endpoint: endpoint, URL: u}
	case p == "json" || p == "auto":
		q = &ops.SQSQueue{Client: sqs.NewFromConfig(cfg), URL: u}
	default:
		return fmt.Errorf("-sqs-protocol %q: json, query or auto", p)
	}
	r := &ops.Redriver{Queue: q, Streams: dynamodbstreams.NewFromConfig(cfg), Events: events, Processor: n, Resender: n, Out: os.Stdout, DryRun: *dryRun}
	_, err = r.Redrive(ctx)
	return err
}

func inspect(ctx context.Context, args []string) error {
	c := newCommand("inspect")
	events := c.need("events-table", "EVENTS_TABLE", "events table")
	state := c.need("state-table", "STATE_TABLE", "stream state table")
	stream := c.need("stream", "", "the stream id")
	n := c.Int("n", 20, fmt.Sprintf("how many of its last events to show (at most %d)", eventstore.MaxLimit))
	cfg, err := c.parse(ctx, args)
	if err != nil {
		return err
	}
	ddb := dynamodb.NewFromConfig(cfg)
	in := &ops.Inspector{State: &streamstate.Store{Client: ddb, Table: *state}, Events: &eventstore.Reader{Client: ddb, Table: *events}, Out: os.Stdout}
	return in.Inspect(ctx, *stream, *n)
}

func rotateSecret(ctx context.Context, args []string, stdin io.Reader) error {
	if len(args) == 0 {
		return errors.New("rotate-secret status | add | finish  (see docs/operations.md, \"Rotating the signing secret\")")
	}
	step, args := args[0], args[1:]
	c := newCommand("rotate-secret " + step)
	id := c.need("secret-id", "FASTPIX_WEBHOOK_SECRET_ARN", "the Secrets Manager secret")
	cfg, err := c.parse(ctx, args)
	if err != nil {
		return err
	}
	r := &ops.Rotation{Client: secretsmanager.NewFromConfig(cfg), SecretID: *id, Out: os.Stdout}
	switch step {
	case "status":
		return r.Status(ctx)
	case "add":
		// The new secret comes on standard input, never as an argument: the
		// command line is visible to every user and kept in shell history.
		fmt.Fprintln(os.Stderr, "paste the new signing secret from the FastPix dashboard, then Enter:")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && (!errors.Is(err, io.EOF) || line == "") {
			return fmt.Errorf("read the new secret from standard input: %w", err)
		}
		if err := r.Add(ctx, strings.TrimSpace(line)); err != nil {
			return err
		}
		fmt.Println("next: switch FastPix to the new secret (the webhook reloads it on the first delivery signed with it), then run: fastpixctl rotate-secret finish")
		return nil
	case "finish":
		return r.Finish(ctx)
	}
	return fmt.Errorf("rotate-secret: unknown step %q (status, add, finish)", step)
}
