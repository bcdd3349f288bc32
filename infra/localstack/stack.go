// Package localstack runs the whole system on one machine: DynamoDB Local
// and the goaws SNS emulator, the tables and topics declared in
// template.yaml, the functions' own handlers behind a stand-in for API
// awslocal.Gateway's HTTP API, a stand-in for the DynamoDB stream event source
// mapping, and an inbox that shows each alert as a person would receive it.
//
// Nothing here re-implements a function: requests and stream batches are
// turned into the events Lambda delivers and handed to the same handlers
// the deployed functions run.
package localstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/streamhook/fastpix-receiver/infra/awslocal"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/internal/app/notifier"
	"github.com/streamhook/fastpix-receiver/internal/app/streams"
	"github.com/streamhook/fastpix-receiver/internal/app/webhook"
	"github.com/streamhook/fastpix-receiver/internal/emulator"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/secrets"
)

// DevSecret is the signing secret of local runs when none is given: base64
// of "fastpix-receiver local development secret". It protects nothing and
// is printed on purpose, so that a newcomer can sign a request at once.
const DevSecret = "ZmFzdHBpeC1yZWNlaXZlciBsb2NhbCBkZXZlbG9wbWVudCBzZWNyZXQ="

// The template's names the local stack wires.
const (
	EventsTableID      = "EventLogTable"
	StateTableID       = "StreamStateTable"
	webhookFunctionID  = "WebhookFunction"
	notifierFunctionID = "NotifierFunction"
	streamsFunctionID  = "StreamsFunction"
	// WebhookPath is FastPix's route.
	WebhookPath = "/webhooks/fastpix"
)

// Config configures the local stack. Zero ports pick free ones.
type Config struct {
	DynamoDBPort int
	SNSPort      int
	HTTPPort     int
	// Secret is the base64 signing secret; DevSecret when empty.
	Secret string
	// TemplatePath is template.yaml; the repository's when empty.
	TemplatePath string
	// LogDir receives the emulators' output; a temporary folder when empty.
	LogDir string
	// Logger gets the functions' and the stack's log lines.
	Logger *slog.Logger
	// Metrics receives the functions' metrics, the EMF lines they print in
	// Lambda (nil: dropped).
	Metrics io.Writer
	// Inbox receives each alert as a person would see it (nil: not printed).
	Inbox io.Writer
	// Changes receives each message of the change feed as one line (nil:
	// not printed).
	Changes io.Writer
	// RetryDelay is the pause before a failed stream batch is delivered
	// again (1 s when zero).
	RetryDelay time.Duration
	// PublishLatency holds each of the notifier's SNS requests this long
	// before it is sent (none when zero): goaws answers in a millisecond,
	// SNS in tens of them (make bench-burst sets 70 ms).
	PublishLatency time.Duration
	// FailFirstPublish fails the first attempt of every distinct SNS
	// publish of the notifier, and DeliverChecksTwice hands every check to
	// the notifier twice: the proofs' faults.
	FailFirstPublish, DeliverChecksTwice bool
	// Lanes replaces the template's ParallelizationFactor of the events
	// table's stream when positive: the proofs run the same lives through
	// one lane and through ten.
	Lanes int
	// Rules are the alert rules' settings that replace the template's
	// defaults, by variable (DISCONNECT_GRACE_SECONDS, FLAP_THRESHOLD,
	// FLAP_WINDOW_MINUTES): make run passes its own environment's, so a
	// short grace can be tried without editing the template. Other names
	// are refused.
	Rules map[string]string
}

// RulesVariables are the notifier's variables Config.Rules may set.
var RulesVariables = []string{alertrules.EnvGraceSeconds, alertrules.EnvFlapThreshold, alertrules.EnvFlapWindowMinutes}

// Stack is the running local system.
type Stack struct {
	// URL is the HTTP API's base address, e.g. http://127.0.0.1:3000.
	URL              string
	DynamoDBEndpoint string
	// SNSEndpoint is goaws's, behind the stack's SNS front (filter
	// policies kept and checked as SNS does); SQS passes through.
	SNSEndpoint string
	EventsTable string
	StateTable  string
	// Topics maps each topic's logical id to its ARN.
	Topics map[string]string
	// Queues maps each AWS::SQS::Queue's logical id to its URL in goaws
	// (SNSEndpoint/<account>/<logical id>). goaws speaks SQS's query
	// protocol only: ops.QueryQueue talks to it.
	Queues map[string]string
	// DeadLetterQueue is the logical id of the queue the notifier's event
	// source records the batches it gives up on in (its
	// DestinationConfig.OnFailure); empty when it has none.
	DeadLetterQueue string
	// Routes is the notifier's routing, event type → topic ARN.
	Routes alerts.Routes
	// ChangesTopic is the change feed's topic ARN (the notifier's
	// CHANGES_TOPIC_ARN); "" when the template declares none.
	ChangesTopic string
	// Rules are the notifier's alert rules' settings, as it runs them.
	Rules alertrules.Settings
	// Notifier is the notifier the stack's function runs, for what
	// fastpixctl's replay and redrive do against the stack: the same
	// rules, routes, stores and queues.
	Notifier *notify.Notifier
	// CheckQueue is the logical id of the queue of the held disconnects'
	// checks (the notifier's SQS event source); empty when it has none.
	CheckQueue string
	// CheckDeadLetterQueue is its RedrivePolicy's dead-letter queue. goaws
	// does not redrive: locally a failing check is delivered again and
	// again, and nothing reaches it.
	CheckDeadLetterQueue string
	// HTTPRoutes are the API's routes ("POST /webhooks/fastpix", …).
	HTTPRoutes []string
	// Secret is the signing secret in use.
	Secret string
	// Inbox is subscribed to the alert topics: every topic but the change
	// feed's, which would drown it.
	Inbox *Inbox
	// Feed is subscribed to the change feed alone (nil without one).
	Feed *FeedTail
	// Warnings are what the template says that the stack cannot do
	// locally.
	Warnings []string

	log   *slog.Logger
	procs []*emulator.Process
	// front stands before goaws on the SNS port (see awslocal.SNSFront).
	front *awslocal.SNSFront
	// goaws is goaws's own endpoint: the functions and the stack's own
	// queue clients talk to it directly, as they talk to SNS and SQS in
	// AWS; the front (SNSEndpoint) is for who manages subscriptions.
	goaws     string
	streamARN string
	srv       *http.Server
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	stopOnce  sync.Once
	errc      chan error
	// publishLatency is Config.PublishLatency, for the notifier's clients.
	publishLatency time.Duration
	// lanes is Config.Lanes.
	lanes int
	// failFirstPublish and checksTwice are Config's faults.
	failFirstPublish, checksTwice bool
}

// Start brings the stack up: it reads the template, starts the emulators,
// creates the template's tables, topics and queues, builds the functions
// as their Lambdas are built, serves the HTTP API and polls the events
// table's stream. On failure everything already started is stopped again.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Stack{log: log, Secret: cfg.Secret, Topics: map[string]string{}, Queues: map[string]string{}, errc: make(chan error, 2)}
	if s.Secret == "" {
		s.Secret = DevSecret
	}
	if _, err := fastpix.NewVerifier(s.Secret); err != nil {
		return nil, fmt.Errorf("localstack: the signing secret must be base64: %w", err)
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	tmpl, err := readTemplate(cfg.TemplatePath)
	if err != nil {
		return nil, err
	}
	if err := s.startEmulators(ctx, cfg); err != nil {
		return nil, err
	}
	awsCfg := awsConfig(serviceEndpoints{
		"DynamoDB": s.DynamoDBEndpoint, "DynamoDB Streams": s.DynamoDBEndpoint,
		"SNS": s.goaws, "SQS": s.goaws,
	})
	if err := s.createTables(ctx, tmpl, dynamodb.NewFromConfig(awsCfg)); err != nil {
		return nil, err
	}
	// The stack manages topics and subscriptions through the front, as
	// fastpixctl does; the functions publish to goaws directly (awsCfg).
	snsClient := sns.NewFromConfig(awsCfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(s.SNSEndpoint) })
	if err := s.createTopics(ctx, tmpl, snsClient); err != nil {
		return nil, err
	}
	if err := s.createQueues(ctx, tmpl); err != nil {
		return nil, err
	}
	s.publishLatency = cfg.PublishLatency
	s.lanes = cfg.Lanes
	s.failFirstPublish, s.checksTwice = cfg.FailFirstPublish, cfg.DeliverChecksTwice
	fns, err := s.buildFunctions(tmpl, s.templateVars(tmpl), awsCfg, cfg.Metrics, cfg.Rules)
	if err != nil {
		return nil, err
	}
	checks, err := s.checkSource(tmpl, fns)
	if err != nil {
		return nil, err
	}
	if err := s.subscribeInbox(ctx, snsClient, cfg.Inbox, cfg.Changes); err != nil {
		return nil, err
	}
	gw, err := s.gateway(tmpl, fns)
	if err != nil {
		return nil, err
	}
	poller, err := s.poller(tmpl, fns, dynamodbstreams.NewFromConfig(awsCfg), cfg.RetryDelay)
	if err != nil {
		return nil, err
	}
	if err := s.run(gw, poller, checks, cfg.HTTPPort); err != nil {
		return nil, err
	}
	return s, nil
}

// readTemplate reads the template at path (the repository's when empty).
func readTemplate(path string) (*samtemplate.Template, error) {
	if path == "" {
		var err error
		if path, err = samtemplate.Path(); err != nil {
			return nil, err
		}
	}
	return samtemplate.Load(path)
}

// startEmulators starts DynamoDB Local and goaws side by side: DynamoDB
// Local is the slow one (a JVM).
func (s *Stack) startEmulators(ctx context.Context, cfg Config) error {
	for _, p := range []struct {
		port int
		what string
	}{{cfg.DynamoDBPort, "DynamoDB Local"}, {cfg.SNSPort, "the SNS emulator"}, {cfg.HTTPPort, "the HTTP API"}} {
		if err := portFree(p.port); err != nil {
			return fmt.Errorf("localstack: port %d for %s is taken (is another `make run` running?): %w", p.port, p.what, err)
		}
	}
	type started struct {
		p   *emulator.Process
		err error
	}
	ddbc, snsc := make(chan started, 1), make(chan started, 1)
	go func() {
		p, err := emulator.StartDynamoDB(ctx, emulator.DynamoDBOptions{Port: cfg.DynamoDBPort, LogDir: cfg.LogDir})
		ddbc <- started{p, err}
	}()
	go func() {
		// goaws listens on a port of its own; the SNS port is the front's
		// (awslocal.SNSFront: filter policies as SNS keeps and checks them).
		p, err := emulator.StartSNS(ctx, emulator.SNSOptions{Port: 0, LogDir: cfg.LogDir})
		snsc <- started{p, err}
	}()
	d, n := <-ddbc, <-snsc
	for _, st := range []started{d, n} {
		if st.p != nil {
			s.procs = append(s.procs, st.p)
		}
	}
	if err := errors.Join(d.err, n.err); err != nil {
		return err
	}
	front, err := awslocal.StartSNSFront(cfg.SNSPort, n.p.Endpoint, s.log)
	if err != nil {
		return err
	}
	s.front = front
	s.DynamoDBEndpoint, s.SNSEndpoint, s.goaws = d.p.Endpoint, front.URL, n.p.Endpoint
	return nil
}

// createTables creates the tables, named by their logical ids, exactly as
// the template declares them.
func (s *Stack) createTables(ctx context.Context, tmpl *samtemplate.Template, ddb *dynamodb.Client) error {
	s.EventsTable, s.StateTable = EventsTableID, StateTableID
	for _, id := range []string{EventsTableID, StateTableID} {
		in, err := tmpl.CreateTableInput(id, id)
		if err != nil {
			return err
		}
		desc, err := createTable(ctx, ddb, in)
		if err != nil {
			return fmt.Errorf("localstack: create table %s: %w", id, err)
		}
		if id == EventsTableID {
			s.streamARN = aws.ToString(desc.LatestStreamArn)
		}
	}
	if s.streamARN == "" {
		return fmt.Errorf("localstack: table %s has no stream: template.yaml must give it a StreamSpecification", EventsTableID)
	}
	return nil
}

// createTable creates a table in DynamoDB Local. Just after it starts, on a
// busy machine, DynamoDB Local has answered a valid CreateTable with a 400
// whose body is not JSON: such an answer is tried again a few times, and a
// table a lost answer did create is described rather than refused.
func createTable(ctx context.Context, ddb *dynamodb.Client, in *dynamodb.CreateTableInput) (*types.TableDescription, error) {
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, errors.Join(err, ctx.Err())
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		var out *dynamodb.CreateTableOutput
		if out, err = ddb.CreateTable(ctx, in); err == nil {
			return out.TableDescription, nil
		}
		if _, exists := errors.AsType[*types.ResourceInUseException](err); exists && attempt > 0 {
			d, derr := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
			if derr != nil {
				return nil, errors.Join(err, derr)
			}
			return d.Table, nil
		}
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			return nil, err // DynamoDB Local said what is wrong: no retry cures it
		}
	}
	return nil, err
}

// createTopics creates the template's AWS::SNS::Topic resources, named by
// logical id.
func (s *Stack) createTopics(ctx context.Context, tmpl *samtemplate.Template, client *sns.Client) error {
	for _, id := range tmpl.ResourcesOfType("AWS::SNS::Topic") {
		out, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(id)})
		if err != nil {
			return fmt.Errorf("localstack: create topic %s: %w", id, err)
		}
		s.Topics[id] = aws.ToString(out.TopicArn)
	}
	return nil
}

// createQueues creates the template's AWS::SQS::Queue resources, named by
// logical id.
func (s *Stack) createQueues(ctx context.Context, tmpl *samtemplate.Template) error {
	for _, id := range tmpl.ResourcesOfType("AWS::SQS::Queue") {
		q := &ops.QueryQueue{Endpoint: s.SNSEndpoint}
		u, err := q.CreateQueue(ctx, id)
		if err != nil {
			return fmt.Errorf("localstack: %w", err)
		}
		// goaws answers with a host of its own making (region.127.0.0.1);
		// the queue is its path on the endpoint.
		if pu, err := url.Parse(u); err == nil && pu.Path != "" {
			u = s.SNSEndpoint + pu.Path
		}
		s.Queues[id] = u
	}
	return nil
}

// templateVars are the values of the template's pseudo parameters,
// parameters (their defaults) and resources, as !Ref, !GetAtt and !Sub
// resolve them locally.
func (s *Stack) templateVars(tmpl *samtemplate.Template) map[string]string {
	vars := tmpl.ParameterDefaults()
	for k, v := range map[string]string{
		"AWS::Region": emulator.Region, "AWS::AccountId": emulator.AccountID, "AWS::Partition": "aws",
		"AWS::StackName": "local", "AWS::URLSuffix": "amazonaws.com",
		EventsTableID: s.EventsTable, StateTableID: s.StateTable, EventsTableID + ".StreamArn": s.streamARN,
	} {
		vars[k] = v
	}
	for id, arn := range s.Topics {
		vars[id] = arn
		vars[id+".TopicArn"] = arn
		vars[id+".TopicName"] = id
	}
	for id, u := range s.Queues {
		vars[id] = u // Ref of a queue is its URL
		vars[id+".QueueUrl"] = u
		vars[id+".Arn"] = queueARN(id)
		vars[id+".QueueName"] = id
	}
	return vars
}

// functions are the handlers the local stack runs, by logical id.
type functions struct {
	webhook *httpapi.Webhook
	streams *httpapi.Streams
	// notifier is the notifier function, with its handlers of both event
	// sources.
	notifier *notifier.Function
	vars     map[string]string
}

// buildFunctions builds each function with its own constructor, from its
// environment in the template, as the Lambda reads it. The one difference:
// there is no Secrets Manager here, so the webhook is given the secret by
// value (secrets.EnvSecret) instead of the secret's ARN.
func (s *Stack) buildFunctions(tmpl *samtemplate.Template, vars map[string]string, awsCfg aws.Config, metricsOut io.Writer, rules map[string]string) (*functions, error) {
	for name := range rules {
		if !slices.Contains(RulesVariables, name) {
			return nil, fmt.Errorf("localstack: %s is not one of the alert rules' settings (%s)", name, strings.Join(RulesVariables, ", "))
		}
	}
	webhookCfg, err1 := functionConfig(tmpl, webhookFunctionID, vars, map[string]string{secrets.EnvSecretARN: "", secrets.EnvSecret: s.Secret}, webhook.ConfigFromEnv)
	notifierCfg, err2 := functionConfig(tmpl, notifierFunctionID, vars, rules, notifier.ConfigFromEnv)
	streamsCfg, err3 := functionConfig(tmpl, streamsFunctionID, vars, nil, streams.ConfigFromEnv)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	s.Routes, s.ChangesTopic = notifierCfg.Routes, notifierCfg.ChangesTopicARN
	s.Rules = notifierCfg.Rules
	if notifierCfg.CheckQueueURL == "" {
		s.Rules.Grace = 0
	}
	// goaws speaks only SQS's query protocol: the notifier sends its checks
	// through the client that does (each send names its queue's URL).
	notifierCfg.Queues = &ops.QueryQueue{Endpoint: s.goaws}

	fns := &functions{vars: vars}
	var err error
	if fns.webhook, err = webhook.New(webhookCfg, awsCfg, s.log, metricsOut); err != nil {
		return nil, err
	}
	notifierAWS := awslocal.WithPublishLatency(awsCfg, s.publishLatency)
	if s.failFirstPublish {
		notifierAWS = awslocal.WithFirstPublishFailing(notifierAWS)
	}
	if fns.notifier, err = notifier.New(notifierCfg, notifierAWS, s.log, metricsOut); err != nil {
		return nil, err
	}
	s.Notifier = fns.notifier.Notifier
	if fns.streams, err = streams.New(streamsCfg, awsCfg, s.log); err != nil {
		return nil, err
	}
	return fns, nil
}

// functionConfig reads function id's configuration with fromEnv (its
// constructor's ConfigFromEnv) from its environment in the template,
// resolved over vars, with override's values in place of the template's
// (an empty value removes the variable).
func functionConfig[C any](tmpl *samtemplate.Template, id string, vars, override map[string]string, fromEnv func(getenv func(string) string) (C, error)) (C, error) {
	var cfg C
	values, err := tmpl.Environment(id)
	if err != nil {
		return cfg, err
	}
	env := map[string]string{}
	for name, v := range values {
		if _, ok := override[name]; ok {
			continue
		}
		if env[name], err = v.Substitute(vars); err != nil {
			return cfg, fmt.Errorf("localstack: %s %s: %w", id, name, err)
		}
	}
	for name, v := range override {
		if v != "" {
			env[name] = v
		}
	}
	if cfg, err = fromEnv(func(name string) string { return env[name] }); err != nil {
		return cfg, fmt.Errorf("localstack: %s: %w", id, err)
	}
	return cfg, nil
}

// subscribeInbox starts the alert inbox and subscribes it to every topic
// but the change feed's, and subscribes the feed's own subscriber to that
// one.
func (s *Stack) subscribeInbox(ctx context.Context, client *sns.Client, inbox, changes io.Writer) error {
	var err error
	if s.Inbox, err = StartInbox(client, inbox, s.log); err != nil {
		return err
	}
	if s.front != nil {
		s.Inbox.router.generation = s.front.Generation
	}
	if s.ChangesTopic != "" {
		if s.Feed, err = StartFeedTail(client, changes, s.log); err != nil {
			return err
		}
	}
	subCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(s.Topics))
	for _, arn := range s.Topics {
		if arn == s.ChangesTopic {
			wg.Go(func() { errs <- s.Feed.Subscribe(subCtx, arn) })
			continue
		}
		wg.Go(func() { errs <- s.Inbox.Subscribe(subCtx, arn) })
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// gateway routes the template's HttpApi routes to the functions.
func (s *Stack) gateway(tmpl *samtemplate.Template, fns *functions) (*awslocal.Gateway, error) {
	handlers := map[string]awslocal.HTTPHandler{webhookFunctionID: fns.webhook.Handle, streamsFunctionID: fns.streams.Handle}
	gw := &awslocal.Gateway{Logger: s.log}
	for _, rt := range tmpl.HTTPRoutes() {
		h, ok := handlers[rt.Function]
		if !ok {
			return nil, fmt.Errorf("localstack: route %s goes to %s, which the local stack does not run", rt.RouteKey(), rt.Function)
		}
		gw.Routes = append(gw.Routes, awslocal.Route{Method: rt.Method, Path: rt.Path, Handler: h})
		s.HTTPRoutes = append(s.HTTPRoutes, rt.Method+" "+rt.Path)
	}
	sort.Strings(s.HTTPRoutes)
	return gw, nil
}

// poller delivers the events table's stream to the notifier as its event
// source in the template says: filter, batch size, retries and the
// destination of the batches it gives up on.
func (s *Stack) poller(tmpl *samtemplate.Template, fns *functions, client *dynamodbstreams.Client, retryDelay time.Duration) (*awslocal.Poller, error) {
	source, err := tmpl.StreamSource(notifierFunctionID)
	if err != nil {
		return nil, err
	}
	if source.Table != "" && source.Table != EventsTableID {
		return nil, fmt.Errorf("localstack: %s reads the stream of %s; the local stack knows only %s's", notifierFunctionID, source.Table, EventsTableID)
	}
	filter, err := awslocal.NewFilter(source.FilterPatterns)
	if err != nil {
		return nil, err
	}
	var onFailure func(context.Context, awslocal.FailedBatch) error
	if source.OnFailure.Sub != "" {
		dest, err := source.OnFailure.Substitute(fns.vars)
		if err != nil {
			return nil, fmt.Errorf("localstack: %s DestinationConfig.OnFailure: %w", notifierFunctionID, err)
		}
		if id := s.queueWithARN(dest); id != "" {
			s.DeadLetterQueue = id
			dl := &awslocal.DeadLetter{
				Queue: &ops.QueryQueue{Endpoint: s.goaws, URL: s.Queues[id]}, Name: id, Log: s.log,
				FunctionARN: fmt.Sprintf("arn:aws:lambda:%s:%s:function:local-%s", emulator.Region, emulator.AccountID, notifierFunctionID),
			}
			onFailure = dl.Record
		} else {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s's on-failure destination %s is not an SQS queue of the template: batches it gives up on are only logged", notifierFunctionID, dest))
		}
	}
	return &awslocal.Poller{
		Client: client, StreamARN: s.streamARN, Handler: fns.notifier.Stream.Handle, Filter: filter,
		StartingPosition: source.StartingPosition, BatchSize: source.BatchSize, ParallelizationFactor: cmp.Or(s.lanes, source.ParallelizationFactor),
		ReportBatchItemFailures: source.ReportBatchItemFailures, MaximumRetryAttempts: source.MaximumRetryAttempts,
		MaximumRecordAge: time.Duration(source.MaximumRecordAgeInSeconds) * time.Second, OnFailure: onFailure,
		RetryDelay: retryDelay, Logger: s.log,
	}, nil
}

// checkSource delivers the notifier's SQS event source (the held
// disconnects' checks, each visible when its delay is over) to its
// handler, as Lambda would; nil when the template gives it none.
func (s *Stack) checkSource(tmpl *samtemplate.Template, fns *functions) (*awslocal.SQSSource, error) {
	src, found, err := tmpl.QueueSource(notifierFunctionID)
	if err != nil || !found {
		return nil, err
	}
	u, ok := s.Queues[src.Queue]
	if !ok {
		return nil, fmt.Errorf("localstack: %s reads queue %s, which the local stack did not create", notifierFunctionID, src.Queue)
	}
	if !src.ReportBatchItemFailures {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s's SQS event source has no ReportBatchItemFailures: one failed check fails its whole batch", notifierFunctionID))
	}
	s.CheckQueue = src.Queue
	if q, err := tmpl.Resource(src.Queue); err == nil {
		s.CheckDeadLetterQueue, _, _ = strings.Cut(q.Properties().Get("RedrivePolicy", "deadLetterTargetArn").Target(), ".")
	}
	return &awslocal.SQSSource{
		Queue: &ops.QueryQueue{Endpoint: s.goaws, URL: u}, ARN: queueARN(src.Queue),
		Handler: fns.notifier.Checks.Handle, BatchSize: src.BatchSize, Logger: s.log, Twice: s.checksTwice,
	}, nil
}

// queueWithARN is the logical id of the template's queue with the ARN, or "".
func (s *Stack) queueWithARN(arn string) string {
	for id := range s.Queues {
		if queueARN(id) == arn {
			return id
		}
	}
	return ""
}

// run serves the HTTP API on port (a free one when 0) and polls the
// stream and the check queue (when there is one) until Stop.
func (s *Stack) run(gw *awslocal.Gateway, poller *awslocal.Poller, checks *awslocal.SQSSource, port int) error {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("localstack: HTTP API: %w", err)
	}
	s.URL = "http://" + l.Addr().String()
	s.srv = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("localstack: HTTP API: %w", err))
		}
	})
	s.wg.Go(func() {
		if err := poller.Run(runCtx); err != nil {
			s.fail(err)
		}
	})
	if checks != nil {
		s.wg.Go(func() { checks.Run(runCtx) })
	}
	go s.watch(runCtx)
	return nil
}

// watch reports an emulator that dies while the stack runs.
func (s *Stack) watch(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		for _, p := range s.procs {
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port), time.Second); err == nil {
				c.Close()
			} else if ctx.Err() == nil {
				s.fail(fmt.Errorf("localstack: the emulator on port %d stopped answering (its log: %s)", p.Port, p.LogPath()))
				return
			}
		}
	}
}

func (s *Stack) fail(err error) {
	select {
	case s.errc <- err:
	default: // one failure is enough to stop on
	}
}

// Err delivers the first failure of a running part (the HTTP server, the
// poller, an emulator).
func (s *Stack) Err() <-chan error { return s.errc }

// Stop stops everything the stack started and waits for it. It is safe to
// call more than once.
func (s *Stack) Stop() {
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		if s.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_ = s.srv.Shutdown(ctx)
			cancel()
		}
		s.wg.Wait()
		if s.Inbox != nil {
			s.Inbox.Close()
		}
		if s.Feed != nil {
			s.Feed.Close()
		}
		if s.front != nil {
			s.front.Close()
		}
		for _, p := range s.procs {
			p.Stop()
		}
	})
}

// queueARN is the ARN goaws gives the queue called name.
func queueARN(name string) string {
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", emulator.Region, emulator.AccountID, name)
}

func portFree(port int) error {
	if port == 0 {
		return nil
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	return l.Close()
}

// RulesSettings are the alert rules' settings make run's notifier runs
// with: the template's (its parameters' defaults, through the notifier's
// environment), each replaced by env's value when that is set. The demo
// reads them the same way as the stack, to know how long to wait.
func RulesSettings(templatePath string, env map[string]string) (alertrules.Settings, error) {
	tmpl, err := readTemplate(templatePath)
	if err != nil {
		return alertrules.Settings{}, err
	}
	values, err := tmpl.Environment(notifierFunctionID)
	if err != nil {
		return alertrules.Settings{}, err
	}
	params := tmpl.ParameterDefaults()
	return alertrules.SettingsFromEnv(func(name string) string {
		if v := env[name]; v != "" {
			return v
		}
		if v, ok := values[name]; ok {
			if s, err := v.Substitute(params); err == nil {
				return s
			}
		}
		return ""
	})
}
