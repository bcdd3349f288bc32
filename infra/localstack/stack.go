package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/infra/emulator"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// DevSecret is the signing secret of local runs when none is given: base64
// of "fastpix-receiver local development secret". It protects nothing and
// is printed on purpose, so that a newcomer can sign a request at once.
const DevSecret = "ZmFzdHBpeC1yZWNlaXZlciBsb2NhbCBkZXZlbG9wbWVudCBzZWNyZXQ="

// The template's names the local stack wires (see /tmp/shared-names.md).
const (
	EventsTableID      = "EventsTable"
	StateTableID       = "StreamStateTable"
	webhookFunctionID  = "WebhookFunction"
	notifierFunctionID = "NotifierFunction"
	streamsFunctionID  = "StreamsFunction"
	// WebhookPath is FastPix's route.
	WebhookPath = "/webhooks/fastpix"
)

// fallbackTopics and fallbackRoutes stand in while template.yaml does not
// declare the topics or the notifier yet; the template wins as soon as it
// does.
var (
	fallbackTopics = []string{"OperationsTopic", "SimulcastBroadcastingTopic", "StreamDisconnectedTopic", "StreamLiveTopic"}
	fallbackRoutes = `{"video.live_stream.active":"${StreamLiveTopic}",` +
		`"video.live_stream.disconnected":"${StreamDisconnectedTopic}",` +
		`"video.live_stream.simulcast.broadcasting":"${SimulcastBroadcastingTopic}",` +
		`"video.live_stream.simulcast_target.broadcasting":"${SimulcastBroadcastingTopic}"}`
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
	// Inbox receives each alert as a person would see it (nil: not printed).
	Inbox io.Writer
	// RetryDelay is the pause before a failed stream batch is delivered
	// again (1 s when zero).
	RetryDelay time.Duration
}

// Stack is the running local system.
type Stack struct {
	// URL is the HTTP API's base address, e.g. http://127.0.0.1:3000.
	URL              string
	DynamoDBEndpoint string
	SNSEndpoint      string
	EventsTable      string
	StateTable       string
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
	// HTTPRoutes are the API's routes ("POST /webhooks/fastpix", …).
	HTTPRoutes []string
	// Secret is the signing secret in use.
	Secret string
	Inbox  *Inbox
	// Warnings are what the template did not (yet) say and the stack
	// assumed.
	Warnings []string

	log      *slog.Logger
	procs    []*emulator.Process
	srv      *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
	errc     chan error
}

// Start brings the stack up. On failure everything already started is
// stopped again.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Stack{log: log, Secret: cfg.Secret, Topics: map[string]string{}, Queues: map[string]string{}, errc: make(chan error, 2)}
	if s.Secret == "" {
		s.Secret = DevSecret
	}
	verifier, err := fastpix.NewVerifier(s.Secret)
	if err != nil {
		return nil, fmt.Errorf("localstack: the signing secret must be base64: %w", err)
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	path := cfg.TemplatePath
	if path == "" {
		if path, err = samtemplate.Path(); err != nil {
			return nil, err
		}
	}
	tmpl, err := samtemplate.Load(path)
	if err != nil {
		return nil, err
	}
	raw, err := samtemplate.LoadRaw(path)
	if err != nil {
		return nil, err
	}
	for _, p := range []struct {
		port int
		what string
	}{{cfg.DynamoDBPort, "DynamoDB Local"}, {cfg.SNSPort, "the SNS emulator"}, {cfg.HTTPPort, "the HTTP API"}} {
		if err := portFree(p.port); err != nil {
			return nil, fmt.Errorf("localstack: port %d for %s is taken (is another `make run` running?): %w", p.port, p.what, err)
		}
	}

	// The emulators, side by side: DynamoDB Local is the slow one (a JVM).
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
		p, err := emulator.StartSNS(ctx, emulator.SNSOptions{Port: cfg.SNSPort, LogDir: cfg.LogDir})
		snsc <- started{p, err}
	}()
	d, n := <-ddbc, <-snsc
	for _, st := range []started{d, n} {
		if st.p != nil {
			s.procs = append(s.procs, st.p)
		}
	}
	if err := errors.Join(d.err, n.err); err != nil {
		return nil, err
	}
	s.DynamoDBEndpoint, s.SNSEndpoint = d.p.Endpoint, n.p.Endpoint

	awsCfg := aws.Config{Region: emulator.Region, Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.DynamoDBEndpoint) })
	streams := dynamodbstreams.NewFromConfig(awsCfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(s.DynamoDBEndpoint) })
	snsClient := sns.NewFromConfig(awsCfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(s.SNSEndpoint) })

	// Tables, named by their logical ids, exactly as the template declares them.
	s.EventsTable, s.StateTable = EventsTableID, StateTableID
	var streamARN string
	for _, id := range []string{EventsTableID, StateTableID} {
		in, err := tmpl.CreateTableInput(id, id)
		if err != nil {
			return nil, err
		}
		out, err := ddb.CreateTable(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("localstack: create table %s: %w", id, err)
		}
		if id == EventsTableID {
			streamARN = aws.ToString(out.TableDescription.LatestStreamArn)
		}
	}
	if streamARN == "" {
		return nil, fmt.Errorf("localstack: table %s has no stream: template.yaml must give it a StreamSpecification", EventsTableID)
	}

	// Topics: the template's AWS::SNS::Topic resources, named by logical id.
	topicIDs := raw.ResourcesOfType("AWS::SNS::Topic")
	if len(topicIDs) == 0 {
		topicIDs = fallbackTopics
		s.Warnings = append(s.Warnings, "template.yaml declares no AWS::SNS::Topic yet: using "+strings.Join(fallbackTopics, ", "))
	}
	for _, id := range topicIDs {
		out, err := snsClient.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(id)})
		if err != nil {
			return nil, fmt.Errorf("localstack: create topic %s: %w", id, err)
		}
		s.Topics[id] = aws.ToString(out.TopicArn)
	}
	// Queues: the template's AWS::SQS::Queue resources, named by logical id.
	queueARNs := map[string]string{} // ARN → logical id
	for _, id := range raw.ResourcesOfType("AWS::SQS::Queue") {
		q := &ops.QueryQueue{Endpoint: s.SNSEndpoint}
		u, err := q.CreateQueue(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("localstack: %w", err)
		}
		// goaws answers with a host of its own making (region.127.0.0.1);
		// the queue is its path on the endpoint.
		if pu, err := url.Parse(u); err == nil && pu.Path != "" {
			u = s.SNSEndpoint + pu.Path
		}
		s.Queues[id] = u
		queueARNs[queueARN(id)] = id
	}
	vars := raw.ParameterDefaults()
	for k, v := range map[string]string{
		"AWS::Region": emulator.Region, "AWS::AccountId": emulator.AccountID, "AWS::Partition": "aws",
		"AWS::StackName": "local", "AWS::URLSuffix": "amazonaws.com",
		EventsTableID: s.EventsTable, StateTableID: s.StateTable, EventsTableID + ".StreamArn": streamARN,
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

	// The notifier's configuration, from its environment in the template.
	routesValue, publishTests := samtemplate.Value{Sub: fallbackRoutes}, true
	var source samtemplate.StreamSource
	if raw.HasResource(notifierFunctionID) {
		env, err := raw.Environment(notifierFunctionID)
		if err != nil {
			return nil, err
		}
		v, ok := env["ALERT_ROUTES"]
		if !ok {
			return nil, fmt.Errorf("localstack: %s has no ALERT_ROUTES in template.yaml", notifierFunctionID)
		}
		routesValue = v
		if v, ok := env["PUBLISH_TEST_EVENTS"]; ok {
			text, err := v.Substitute(vars)
			if err == nil {
				publishTests, err = strconv.ParseBool(text)
			}
			if err != nil {
				return nil, fmt.Errorf("localstack: %s PUBLISH_TEST_EVENTS %q: %w", notifierFunctionID, text, err)
			}
		}
		if source, err = raw.StreamSource(notifierFunctionID); err != nil {
			return nil, err
		}
	} else {
		s.Warnings = append(s.Warnings, "template.yaml has no "+notifierFunctionID+" yet: alert routes, stream filter (INSERT) and batch settings assumed")
		source = samtemplate.StreamSource{Table: EventsTableID, StartingPosition: "TRIM_HORIZON", BatchSize: 100,
			FilterPatterns: []string{`{"eventName":["INSERT"]}`}, ReportBatchItemFailures: true, MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1}
	}
	// Where the event source records the batches it gives up on.
	var onFailure func(context.Context, FailedBatch) error
	if source.OnFailure.Sub != "" {
		dest, err := source.OnFailure.Substitute(vars)
		if err != nil {
			return nil, fmt.Errorf("localstack: %s DestinationConfig.OnFailure: %w", notifierFunctionID, err)
		}
		if id, ok := queueARNs[dest]; ok {
			s.DeadLetterQueue = id
			dl := &deadLetter{
				queue: &ops.QueryQueue{Endpoint: s.SNSEndpoint, URL: s.Queues[id]}, name: id, log: log,
				functionARN: fmt.Sprintf("arn:aws:lambda:%s:%s:function:local-%s", emulator.Region, emulator.AccountID, notifierFunctionID),
			}
			onFailure = dl.record
		} else {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s's on-failure destination %s is not an SQS queue of the template: batches it gives up on are only logged", notifierFunctionID, dest))
		}
	}
	routesText, err := routesValue.Substitute(vars)
	if err != nil {
		return nil, fmt.Errorf("localstack: %s ALERT_ROUTES: %w", notifierFunctionID, err)
	}
	if s.Routes, err = alerts.ParseRoutes(routesText); err != nil {
		return nil, fmt.Errorf("localstack: %s ALERT_ROUTES: %w", notifierFunctionID, err)
	}
	if source.Table != "" && source.Table != EventsTableID {
		return nil, fmt.Errorf("localstack: %s reads the stream of %s; the local stack knows only %s's", notifierFunctionID, source.Table, EventsTableID)
	}
	filter, err := NewFilter(source.FilterPatterns)
	if err != nil {
		return nil, err
	}

	retention := eventstore.DefaultRetention
	if raw.HasResource(webhookFunctionID) {
		if env, err := raw.Environment(webhookFunctionID); err == nil {
			if v, ok := env["RETENTION_DAYS"]; ok {
				if text, err := v.Substitute(vars); err == nil {
					if days, err := strconv.Atoi(text); err == nil && days > 0 {
						retention = time.Duration(days) * 24 * time.Hour
					}
				}
			}
		}
	}

	// The inbox, subscribed to every topic.
	if s.Inbox, err = StartInbox(snsClient, cfg.Inbox, log); err != nil {
		return nil, err
	}
	subCtx, cancelSub := context.WithTimeout(ctx, 30*time.Second)
	defer cancelSub()
	var subWG sync.WaitGroup
	subErrs := make([]error, len(topicIDs))
	for i, id := range topicIDs {
		subWG.Go(func() { subErrs[i] = s.Inbox.Subscribe(subCtx, s.Topics[id]) })
	}
	subWG.Wait()
	if err := errors.Join(subErrs...); err != nil {
		return nil, err
	}

	// The functions' handlers, wired as their main packages wire them.
	webhook := &httpapi.Webhook{
		Receiver: &ingest.Receiver{
			Keys:      ingest.StaticKeys{V: verifier},
			Store:     &eventstore.DynamoDB{Client: ddb, Table: s.EventsTable},
			Retention: retention,
		},
		Logger: log,
	}
	query := &httpapi.Streams{
		Events: &eventstore.Reader{Client: ddb, Table: s.EventsTable},
		State:  &streamstate.Store{Client: ddb, Table: s.StateTable},
		Logger: log,
	}
	notifier := &ddbstream.Handler{
		Processor: &notify.Notifier{
			State:          &streamstate.Store{Client: ddb, Table: s.StateTable},
			Publisher:      &alerts.SNSPublisher{Client: snsClient},
			Routes:         s.Routes,
			SkipTestEvents: !publishTests,
			Logger:         log,
		},
		Logger: log,
	}

	handlers := map[string]HTTPHandler{webhookFunctionID: webhook.Handle, streamsFunctionID: query.Handle}
	gw := &Gateway{Logger: log}
	for _, rt := range raw.HTTPRoutes() {
		h, ok := handlers[rt.Function]
		if !ok {
			return nil, fmt.Errorf("localstack: route %s goes to %s, which the local stack does not run", rt.RouteKey(), rt.Function)
		}
		gw.Routes = append(gw.Routes, Route{Method: rt.Method, Path: rt.Path, Handler: h})
	}
	if len(gw.Routes) == 0 {
		s.Warnings = append(s.Warnings, "template.yaml declares no HttpApi routes yet: using POST "+WebhookPath+" and the query routes")
		gw.Routes = []Route{
			{Method: http.MethodPost, Path: WebhookPath, Handler: webhook.Handle},
			{Method: http.MethodGet, Path: "/streams/{streamId}", Handler: query.Handle},
			{Method: http.MethodGet, Path: "/streams/{streamId}/events", Handler: query.Handle},
		}
	}
	for _, rt := range gw.Routes {
		s.HTTPRoutes = append(s.HTTPRoutes, rt.Method+" "+rt.Path)
	}
	sort.Strings(s.HTTPRoutes)

	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.HTTPPort))
	if err != nil {
		return nil, fmt.Errorf("localstack: HTTP API: %w", err)
	}
	s.URL = "http://" + l.Addr().String()
	s.srv = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	poller := &Poller{
		Client: streams, StreamARN: streamARN, Handler: notifier.Handle, Filter: filter,
		StartingPosition: source.StartingPosition, BatchSize: source.BatchSize,
		ReportBatchItemFailures: source.ReportBatchItemFailures, MaximumRetryAttempts: source.MaximumRetryAttempts,
		MaximumRecordAge: time.Duration(source.MaximumRecordAgeInSeconds) * time.Second, OnFailure: onFailure,
		RetryDelay: cfg.RetryDelay, Logger: log,
	}
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
	go s.watch(runCtx)
	return s, nil
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
