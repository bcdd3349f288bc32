package templatetest

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

var functions = []struct {
	id  string
	env []string // the variables the function's ConfigFromEnv (internal/app) reads
}{
	{"WebhookFunction", []string{"EVENTS_TABLE", "RETENTION_DAYS", "FASTPIX_WEBHOOK_SECRET_ARN", "CLOCK_SKEW_TOLERANCE_SECONDS"}},
	{"NotifierFunction", []string{"EVENTS_TABLE", "STATE_TABLE", "ALERT_ROUTES", "PUBLISH_TEST_EVENTS", "CHANGES_TOPIC_ARN",
		"DISCONNECT_GRACE_SECONDS", "FLAP_THRESHOLD", "FLAP_WINDOW_MINUTES", "DISCONNECT_CHECK_QUEUE_URL", "DEAD_LETTER_QUEUE_URL"}},
	{"StreamsFunction", []string{"EVENTS_TABLE", "STATE_TABLE"}},
}

// The project's loader reads the whole template: the local stack and every
// integration test create their tables and wire the functions through it.
func TestProjectLoaderReadsTemplate(t *testing.T) {
	tp := load(t)
	for _, f := range functions {
		if _, err := tp.Function(f.id); err != nil {
			t.Errorf("the loader sees no AWS::Serverless::Function %s: %v", f.id, err)
		}
		if _, err := tp.Environment(f.id); err != nil {
			t.Errorf("%s: %v", f.id, err)
		}
	}
	if typ := tp.TypeOf("HttpApi"); typ != "AWS::Serverless::HttpApi" {
		t.Errorf("HttpApi is a %q, want AWS::Serverless::HttpApi", typ)
	}
	for _, id := range tp.ResourcesOfType(samtemplate.TypeTable) {
		if _, err := tp.CreateTableInput(id, id); err != nil {
			t.Errorf("table %s: %v", id, err)
		}
	}
}

func TestGlobals(t *testing.T) {
	g := load(t).Globals("Function")
	for _, c := range []struct {
		key  []string
		want string
	}{
		{[]string{"Runtime"}, "provided.al2023"},
		{[]string{"Handler"}, "bootstrap"},
		{[]string{"Tracing"}, "Active"},
		{[]string{"LoggingConfig", "LogFormat"}, "JSON"},
	} {
		if got := g.Get(c.key...).Text(); got != c.want {
			t.Errorf("Globals.Function.%s = %q, want %q", strings.Join(c.key, "."), got, c.want)
		}
	}
	if a := g.Get("Architectures"); !slices.Equal(a.Texts(), []string{"arm64"}) {
		t.Errorf("Globals.Function.Architectures = %v, want [arm64]", a)
	}
	for _, k := range []string{"Timeout", "MemorySize"} {
		if v, _ := g.Get(k).Number(); v <= 0 {
			t.Errorf("Globals.Function.%s is not set", k)
		}
	}
}

// sam build calls `make build-<LogicalId>` for a function whose Metadata
// says BuildMethod makefile; every such function needs its target, and
// every target its function.
func TestEveryFunctionHasItsMakefileTarget(t *testing.T) {
	tp := load(t)
	mk := readRepoFile(t, "Makefile")
	targets := map[string]bool{}
	for _, mt := range regexp.MustCompile(`(?m)^build-([A-Za-z0-9]+):`).FindAllStringSubmatch(string(mk), -1) {
		targets[mt[1]] = true
	}
	fns := tp.ResourcesOfType(samtemplate.TypeFunction)
	for _, id := range fns {
		r := resource(t, tp, id)
		if bm := r.Get("Metadata", "BuildMethod").Text(); bm != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod = %q, want makefile", id, bm)
		}
		if cu := r.Properties().Get("CodeUri").Text(); cu != "." {
			t.Errorf("%s: CodeUri = %q, want . (the Makefile is at the root)", id, cu)
		}
		if !targets[id] {
			t.Errorf("%s: the Makefile has no build-%s target", id, id)
		}
	}
	for tg := range targets {
		if !slices.Contains(fns, tg) {
			t.Errorf("Makefile target build-%s builds no function of the template", tg)
		}
	}
	if len(fns) != len(functions) {
		t.Errorf("functions = %v, want %d", fns, len(functions))
	}
}

func TestFunctionEnvironment(t *testing.T) {
	tp := load(t)
	for _, f := range functions {
		t.Run(f.id, func(t *testing.T) {
			vars := props(t, tp, f.id).Get("Environment", "Variables")
			got := slices.Sorted(slices.Values(vars.Keys()))
			want := slices.Sorted(slices.Values(f.env))
			if !slices.Equal(got, want) {
				t.Errorf("environment = %v, want %v", got, want)
			}
			for k, v := range vars.Entries() {
				for _, ref := range v.Refs() {
					if !strings.HasPrefix(ref, "AWS::") && !tp.HasResource(ref) && !tp.Parameter(ref).Exists() {
						t.Errorf("%s refers to %s, which the template does not declare", k, ref)
					}
				}
			}
		})
	}
	webhook := props(t, tp, "WebhookFunction").Get("Environment", "Variables")
	for k, want := range map[string]string{"EVENTS_TABLE": "EventLogTable", "FASTPIX_WEBHOOK_SECRET_ARN": "WebhookSecret", "RETENTION_DAYS": "RetentionDays"} {
		if got := webhook.Get(k).Target(); got != want {
			t.Errorf("WebhookFunction %s = %s, want Ref %s", k, got, want)
		}
	}
}

// The tables' keys, index and TTL attribute are the names the code reads
// and writes, and both are protected.
func TestTablesMatchTheCode(t *testing.T) {
	tp := load(t)
	hash := func(ks []samtemplate.Key) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.KeyType+":"+k.Name)
		}
		return out
	}
	cases := []struct {
		id      string
		key     []string
		indexes map[string][]string
		local   map[string][]string
		ttl     string
		stream  string
	}{
		{
			id:     "EventLogTable",
			key:    []string{"HASH:" + eventstore.KeyStreamID, "RANGE:" + eventstore.KeyEventID},
			local:  map[string][]string{eventstore.IndexByTime: {"HASH:" + eventstore.KeyStreamID, "RANGE:" + eventstore.AttrOrderKey}},
			ttl:    eventstore.AttrExpiresAt,
			stream: "KEYS_ONLY",
		},
		{
			id:      "StreamStateTable",
			key:     []string{"HASH:" + streamstate.KeyStreamID},
			indexes: map[string][]string{streamstate.IndexByStatus: {"HASH:" + streamstate.AttrStatus, "RANGE:" + streamstate.AttrListOrder}},
		},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			tbl, err := tp.Table(c.id)
			if err != nil {
				t.Fatal(err)
			}
			if got := hash(tbl.KeySchema); !slices.Equal(got, c.key) {
				t.Errorf("key schema = %v, want %v", got, c.key)
			}
			got := map[string][]string{}
			for _, g := range tbl.GlobalSecondaryIndexes {
				got[g.Name] = hash(g.KeySchema)
			}
			if len(got) != len(c.indexes) {
				t.Errorf("indexes = %v, want %v", got, c.indexes)
			}
			for name, keys := range c.indexes {
				if !slices.Equal(got[name], keys) {
					t.Errorf("index %s = %v, want %v", name, got[name], keys)
				}
			}
			local := map[string][]string{}
			for _, l := range tbl.LocalSecondaryIndexes {
				local[l.Name] = hash(l.KeySchema)
				if l.ProjectionType != "ALL" {
					t.Errorf("local index %s projects %s: the notifier reads whole events from it", l.Name, l.ProjectionType)
				}
			}
			if len(local) != len(c.local) {
				t.Errorf("local indexes = %v, want %v", local, c.local)
			}
			for name, keys := range c.local {
				if !slices.Equal(local[name], keys) {
					t.Errorf("local index %s = %v, want %v", name, local[name], keys)
				}
			}
			defined := map[string]bool{}
			for _, a := range tbl.AttributeDefinitions {
				defined[a.Name] = true
			}
			for _, k := range slices.Concat(append(append([][]string{c.key}, mapValues(c.indexes)...), mapValues(c.local)...)...) {
				_, name, _ := strings.Cut(k, ":")
				if !defined[name] {
					t.Errorf("key attribute %s has no AttributeDefinition", name)
				}
			}
			if len(defined) != len(slices.Compact(slices.Sorted(slices.Values(append(keyNames(c.key, c.indexes), keyNames(nil, c.local)...))))) {
				t.Errorf("attribute definitions %v: DynamoDB refuses definitions that are not keys", defined)
			}
			if tbl.TTLAttribute != c.ttl {
				t.Errorf("TTL attribute = %q, want %q", tbl.TTLAttribute, c.ttl)
			}
			if tbl.StreamViewType != c.stream {
				t.Errorf("stream = %q, want %q", tbl.StreamViewType, c.stream)
			}

			r := resource(t, tp, c.id)
			p := r.Properties()
			for _, check := range []struct {
				what string
				ok   bool
			}{
				{"PAY_PER_REQUEST billing", tbl.BillingMode == "PAY_PER_REQUEST"},
				{"point-in-time recovery", p.Get("PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled").Bool()},
				{"server-side encryption", p.Get("SSESpecification", "SSEEnabled").Bool()},
				{"deletion protection from the DeletionProtection parameter", strings.Contains(p.Get("DeletionProtectionEnabled").Target(), "ProtectTables")},
				{"DeletionPolicy Retain", r.Get("DeletionPolicy").Text() == "Retain"},
				{"UpdateReplacePolicy Retain", r.Get("UpdateReplacePolicy").Text() == "Retain"},
			} {
				if !check.ok {
					t.Errorf("%s is missing", check.what)
				}
			}
		})
	}
}

func mapValues(mv map[string][]string) [][]string {
	var out [][]string
	for _, v := range mv {
		out = append(out, v)
	}
	return out
}

func keyNames(key []string, idx map[string][]string) []string {
	var out []string
	for _, k := range slices.Concat(append([][]string{key}, mapValues(idx)...)...) {
		_, name, _ := strings.Cut(k, ":")
		out = append(out, name)
	}
	return out
}

// ALERT_ROUTES is built from the template's own topics, routes what the
// notifier is meant to alert on, and parses as the notifier parses it.
func TestAlertRoutesNameTheTemplatesTopics(t *testing.T) {
	tp := load(t)
	v := props(t, tp, "NotifierFunction").Get("Environment", "Variables", "ALERT_ROUTES")
	if name, _ := v.Intrinsic(); name != "Fn::Sub" {
		t.Fatalf("ALERT_ROUTES is not a !Sub over the topics: %v", v)
	}
	var routes map[string]string
	if err := json.Unmarshal([]byte(v.Target()), &routes); err != nil {
		t.Fatalf("ALERT_ROUTES is not a JSON object: %v", err)
	}
	want := map[string]string{
		"video.live_stream.active":                        "StreamLiveTopic",
		"video.live_stream.disconnected":                  "StreamDisconnectedTopic",
		"video.live_stream.simulcast.broadcasting":        "SimulcastBroadcastingTopic",
		"video.live_stream.simulcast_target.broadcasting": "SimulcastBroadcastingTopic",
	}
	resolved := map[string]string{}
	for typ, ref := range routes {
		id := strings.TrimSuffix(strings.TrimPrefix(ref, "${"), "}")
		if tp.TypeOf(id) != "AWS::SNS::Topic" {
			t.Errorf("route %s → %s: not an AWS::SNS::Topic of the template", typ, ref)
		}
		if want[typ] != id {
			t.Errorf("route %s → %s, want ${%s}", typ, ref, want[typ])
		}
		resolved[typ] = "arn:aws:sns:eu-west-1:123456789012:" + id
	}
	for typ := range want {
		if _, ok := routes[typ]; !ok {
			t.Errorf("no route for %s", typ)
		}
	}
	text, _ := json.Marshal(resolved)
	parsed, err := alerts.ParseRoutes(string(text))
	if err != nil {
		t.Fatalf("the notifier refuses the deployed ALERT_ROUTES: %v", err)
	}
	for typ, arn := range resolved {
		if got, ok := parsed.Topic(typ); !ok || got != arn {
			t.Errorf("notifier routes %s to %q, want %q", typ, got, arn)
		}
	}

	// Every routed topic can be published to, and is encrypted and
	// subscribed to like the others.
	for _, id := range tp.ResourcesOfType("AWS::SNS::Topic") {
		if k := props(t, tp, id).Get("KmsMasterKeyId").Target(); k != "AlertsKey" {
			t.Errorf("%s is encrypted with %q, want AlertsKey", id, k)
		}
	}
	subs := map[string]bool{}
	for _, id := range tp.ResourcesOfType("AWS::SNS::Subscription") {
		r := resource(t, tp, id)
		p := r.Properties()
		subs[p.Get("TopicArn").Target()+"/"+p.Get("Protocol").Text()+"/"+p.Get("Endpoint").Target()+"/"+r.Condition()] = true
	}
	for _, topic := range want {
		for _, sub := range []string{topic + "/email/AlertEmail/HasAlertEmail", topic + "/sms/AlertPhone/HasAlertPhone"} {
			if !subs[sub] {
				t.Errorf("no subscription %s (topic/protocol/endpoint/condition)", sub)
			}
		}
	}
}

// The change feed: its own topic, encrypted like the others, named to the
// notifier, with no subscriber in the template (teams subscribe theirs with
// a filter policy; an email or SMS subscription would drown people) and
// no alert routed to it. The fleet listing's index carries what a listing
// shows.
func TestChangeFeedAndFleetIndex(t *testing.T) {
	tp := load(t)
	const topic = "StreamChangesTopic"
	if tp.TypeOf(topic) != "AWS::SNS::Topic" {
		t.Fatalf("%s is not an AWS::SNS::Topic", topic)
	}
	if k := props(t, tp, topic).Get("KmsMasterKeyId").Target(); k != "AlertsKey" {
		t.Errorf("%s is encrypted with %q, want AlertsKey", topic, k)
	}
	env := props(t, tp, "NotifierFunction").Get("Environment", "Variables")
	if got := env.Get("CHANGES_TOPIC_ARN").Target(); got != topic {
		t.Errorf("NotifierFunction CHANGES_TOPIC_ARN = %q, want Ref %s", got, topic)
	}
	if routes := env.Get("ALERT_ROUTES").Target(); strings.Contains(routes, topic) {
		t.Errorf("ALERT_ROUTES routes alerts to the change feed: %s", routes)
	}
	for _, id := range tp.ResourcesOfType("AWS::SNS::Subscription") {
		if props(t, tp, id).Get("TopicArn").Target() == topic {
			t.Errorf("%s subscribes to the change feed: the template declares no consumer", id)
		}
	}
	tbl, err := tp.Table("StreamStateTable")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range tbl.GlobalSecondaryIndexes {
		if g.Name == streamstate.IndexByStatus {
			found = true
			if g.ProjectionType != "ALL" {
				t.Errorf("index %s projects %s; the listing reads the workspace and the targets from it: ALL", g.Name, g.ProjectionType)
			}
		}
	}
	if !found {
		t.Errorf("StreamStateTable has no index %s", streamstate.IndexByStatus)
	}
}

type grant struct{ action, resource string }

// statements returns the function's own policy statements as action →
// resource pairs. Only inline statements are allowed: SAM policy templates
// and managed policy names are wider than the function needs.
func statements(t *testing.T, tp *samtemplate.Template, fn string) []grant {
	t.Helper()
	var out []grant
	for _, doc := range props(t, tp, fn).Get("Policies").List() {
		if !doc.IsMapping() || !doc.Get("Statement").Exists() || doc.Len() > 2 {
			t.Errorf("%s: policy %v is not an inline policy document", fn, doc)
			continue
		}
		for _, st := range samtemplate.Statements(doc) {
			if st.Effect != "Allow" {
				t.Errorf("%s: statement %v: Effect must be Allow", fn, st.Sid)
			}
			for _, a := range st.Actions {
				for _, r := range st.Resources {
					out = append(out, grant{a, r.Target()})
				}
			}
		}
	}
	return out
}

// Least privilege: each function may do exactly what its code does, on the
// exact resources. (What SAM adds on its own is outside the template:
// AWSLambdaBasicExecutionRole for logs, AWSXrayWriteOnlyAccess for
// Tracing, AWSLambdaDynamoDBExecutionRole for the stream event; those
// actions take no narrower resource.)
func TestLeastPrivilege(t *testing.T) {
	tp := load(t)
	want := map[string][]grant{
		"WebhookFunction": {
			{"dynamodb:PutItem", "EventLogTable.Arn"},
			{"secretsmanager:GetSecretValue", "WebhookSecret"},
		},
		"NotifierFunction": {
			{"dynamodb:GetItem", "EventLogTable.Arn"},
			{"dynamodb:GetItem", "StreamStateTable.Arn"},
			{"dynamodb:PutItem", "StreamStateTable.Arn"},
			{"dynamodb:Query", "${EventLogTable.Arn}/index/" + eventstore.IndexByTime},
			{"kms:Decrypt", "AlertsKey.Arn"},
			{"kms:GenerateDataKey", "AlertsKey.Arn"},
			{"sns:Publish", "SimulcastBroadcastingTopic"},
			{"sns:Publish", "StreamDisconnectedTopic"},
			{"sns:Publish", "StreamLiveTopic"},
			{"sns:Publish", "StreamChangesTopic"},
			{"sqs:SendMessage", "NotifierDeadLetterQueue.Arn"},
			{"sqs:SendMessage", "DisconnectCheckQueue.Arn"},
		},
		"StreamsFunction": {
			{"dynamodb:GetItem", "StreamStateTable.Arn"},
			{"dynamodb:Query", "${EventLogTable.Arn}/index/" + eventstore.IndexByTime},
			{"dynamodb:Query", "${StreamStateTable.Arn}/index/" + streamstate.IndexByStatus},
		},
	}
	cmp := func(a, b grant) int { return strings.Compare(a.action+" "+a.resource, b.action+" "+b.resource) }
	for _, f := range functions {
		got := statements(t, tp, f.id)
		slices.SortFunc(got, cmp)
		w := slices.Clone(want[f.id])
		slices.SortFunc(w, cmp)
		if !slices.Equal(got, w) {
			t.Errorf("%s may:\n  %v\nwant exactly:\n  %v", f.id, got, w)
		}
	}
}

// No statement anywhere in the template grants on "*" or a wildcard
// action, except a KMS key policy, where "Resource: *" means the key itself.
func TestEveryStatementNamesItsResources(t *testing.T) {
	tp := load(t)
	n := 0
	for _, r := range tp.Resources() {
		id := r.ID
		r.Walk(func(where string, v samtemplate.Node) {
			if !v.IsMapping() || !v.Get("Statement").Exists() {
				return
			}
			for _, st := range samtemplate.Statements(v) {
				n++
				if r.Type() == "AWS::KMS::Key" && strings.HasSuffix(where, "KeyPolicy") {
					continue
				}
				if r.Type() == "AWS::IAM::Role" && strings.HasSuffix(where, "AssumeRolePolicyDocument") {
					// A trust policy names who may assume the role, not resources.
					continue
				}
				if len(st.Resources) == 0 {
					t.Errorf("%s%s: statement %v has no Resource", id, where, st.Sid)
				}
				for _, rv := range st.Resources {
					if rs := rv.Target(); rs == "*" || strings.HasSuffix(rs, ":*") || strings.HasSuffix(rs, "/*") {
						t.Errorf("%s%s: statement %v grants on %q", id, where, st.Sid, rs)
					}
					for _, ref := range rv.Refs() {
						if !strings.HasPrefix(ref, "AWS::") && !tp.HasResource(ref) {
							t.Errorf("%s%s: statement %v names %s, not a resource of the template", id, where, st.Sid, ref)
						}
					}
				}
				for _, a := range st.Actions {
					if strings.Contains(a, "*") {
						t.Errorf("%s%s: statement %v allows %q", id, where, st.Sid, a)
					}
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("found no policy statement at all")
	}
}

// The notifier's stream event: new events only, partial batch failures,
// finite retries, and the dead-letter queue for what gives up.
func TestNotifierEventSource(t *testing.T) {
	tp := load(t)
	evs, err := tp.Events("NotifierFunction", "DynamoDB")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatal("NotifierFunction has no DynamoDB event")
	}
	p := evs[len(evs)-1].Properties
	num := func(k string) float64 { v, _ := p.Get(k).Number(); return v }
	var patterns []string
	for _, f := range p.Get("FilterCriteria", "Filters").List() {
		patterns = append(patterns, f.Get("Pattern").Text())
	}
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"Stream is EventLogTable.StreamArn", p.Get("Stream").Target() == "EventLogTable.StreamArn"},
		{`FilterCriteria lets only INSERT through`, slices.Equal(patterns, []string{`{"eventName":["INSERT"]}`})},
		{"FunctionResponseTypes [ReportBatchItemFailures]", slices.Equal(p.Get("FunctionResponseTypes").Texts(), []string{"ReportBatchItemFailures"})},
		{"BisectBatchOnFunctionError", p.Get("BisectBatchOnFunctionError").Bool()},
		{"finite MaximumRetryAttempts (0..10000)", p.Get("MaximumRetryAttempts").Exists() && num("MaximumRetryAttempts") >= 0 && num("MaximumRetryAttempts") <= 10000},
		{"finite MaximumRecordAgeInSeconds (60..604800)", num("MaximumRecordAgeInSeconds") >= 60 && num("MaximumRecordAgeInSeconds") <= 604800},
		{"on-failure destination: the SQS dead-letter queue", p.Get("DestinationConfig", "OnFailure", "Destination").Target() == "NotifierDeadLetterQueue.Arn" && p.Get("DestinationConfig", "OnFailure", "Type").Text() == "SQS"},
		{"the dead-letter queue keeps messages a set time", props(t, tp, "NotifierDeadLetterQueue").Get("MessageRetentionPeriod").Exists()},
		// Bursts: alert delay is the figure (BENCHMARKS.md, kickoff burst).
		{"no batching window (MaximumBatchingWindowInSeconds 0 or unset): a batch waits for nothing", num("MaximumBatchingWindowInSeconds") == 0},
		{"ParallelizationFactor 2..10: batches of one shard side by side", num("ParallelizationFactor") >= 2 && num("ParallelizationFactor") <= 10},
		{"BatchSize 10..1000", num("BatchSize") >= 10 && num("BatchSize") <= 1000},
		{"the notifier's Timeout covers a batch of one stream's records one after another (0.2 s each)", notifierTimeout(t, tp) >= 0.2*num("BatchSize")},
	} {
		if !c.ok {
			t.Errorf("notifier event source: want %s", c.what)
		}
	}
}

// notifierTimeout is the notifier's Timeout, its own or the Globals'.
func notifierTimeout(t *testing.T, tp *samtemplate.Template) float64 {
	if v, ok := props(t, tp, "NotifierFunction").Get("Timeout").Number(); ok {
		return v
	}
	v, _ := tp.Globals("Function").Get("Timeout").Number()
	return v
}

// The HTTP API: the webhook route open (FastPix signs, it does not sign
// in), the query routes IAM-signed, throttled, access-logged.
func TestHTTPAPI(t *testing.T) {
	tp := load(t)
	type route struct{ fn, auth string }
	got := map[string]route{}
	for _, rt := range tp.HTTPRoutes() {
		if rt.Properties.Get("ApiId").Target() != "HttpApi" {
			t.Errorf("%s route %s is not on HttpApi", rt.Function, rt.Path)
		}
		got[rt.RouteKey()] = route{rt.Function, rt.Properties.Get("Auth", "Authorizer").Text()}
	}
	want := map[string]route{
		"ANY /webhooks/fastpix":          {"WebhookFunction", ""},
		"GET /streams":                   {"StreamsFunction", "AWS_IAM"},
		"GET /streams/{streamId}":        {"StreamsFunction", "AWS_IAM"},
		"GET /streams/{streamId}/events": {"StreamsFunction", "AWS_IAM"},
	}
	if len(got) != len(want) {
		t.Errorf("routes = %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("route %s = %+v, want %+v", k, got[k], w)
		}
	}
	// One HTTP API, whose stage settings are in Globals.HttpApi.
	if ids := tp.ResourcesOfType("AWS::Serverless::HttpApi"); !slices.Equal(ids, []string{"HttpApi"}) {
		t.Fatalf("HTTP APIs = %v, want [HttpApi]", ids)
	}
	g := tp.Globals("HttpApi")
	if !g.Get("Auth", "EnableIamAuthorizer").Bool() {
		t.Error("Globals.HttpApi.Auth.EnableIamAuthorizer must be true for AWS_IAM routes")
	}
	// A kickoff (hundreds of streams going live in one minute) is hundreds
	// of deliveries a second: the throttle must let it through.
	for k, least := range map[string]float64{"ThrottlingRateLimit": 300, "ThrottlingBurstLimit": 750} {
		if v := numberOrDefault(t, tp, g.Get("DefaultRouteSettings", k)); v < least {
			t.Errorf("DefaultRouteSettings.%s is %v; a kickoff burst needs at least %v", k, v, least)
		}
	}
	dest := g.Get("AccessLogSettings", "DestinationArn").Target()
	group, attr, _ := strings.Cut(dest, ".")
	if attr != "Arn" || tp.TypeOf(group) != "AWS::Logs::LogGroup" {
		t.Fatalf("access logs go to %q, want a log group's Arn", dest)
	}
	if !props(t, tp, group).Get("RetentionInDays").Exists() {
		t.Errorf("%s keeps logs forever: set RetentionInDays", group)
	}
	if f := g.Get("AccessLogSettings", "Format").Text(); !json.Valid([]byte(strings.ReplaceAll(f, "$", ""))) || strings.Contains(strings.ToLower(f), "header") {
		t.Errorf("access log format should be JSON without headers: %s", f)
	}
}

// Alarms reach the operations topic and use the metric names the
// services publish: an HTTP API's are 5xx/4xx by ApiId, not the REST API's
// 5XXError by ApiName (an alarm on those never fires).
func TestAlarms(t *testing.T) {
	tp := load(t)
	type alarm struct{ namespace, metric, dimension, target string }
	got := map[alarm]bool{}
	// An alarm that only feeds a composite alarm pages through it
	// (monitoring_test.go checks those).
	inputs := map[string]bool{}
	for _, id := range tp.ResourcesOfType("AWS::CloudWatch::CompositeAlarm") {
		for _, ref := range props(t, tp, id).Get("AlarmRule").Refs() {
			inputs[ref] = true
		}
	}
	for _, id := range tp.ResourcesOfType("AWS::CloudWatch::Alarm") {
		p := props(t, tp, id)
		ns, metric := p.Get("Namespace").Text(), p.Get("MetricName").Text()
		if !inputs[id] && !notifies(p) {
			t.Errorf("%s does not notify OperationsTopic", id)
		}
		for _, d := range p.Get("Dimensions").List() {
			got[alarm{ns, metric, d.Get("Name").Text(), d.Get("Value").Target()}] = true
		}
		if ns == "AWS/ApiGateway" {
			if !slices.Contains([]string{"5xx", "4xx", "Count", "Latency", "IntegrationLatency", "DataProcessed"}, metric) {
				t.Errorf("%s: %s is not an HTTP API metric (5xx, 4xx, Count, Latency, IntegrationLatency, DataProcessed)", id, metric)
			}
			for _, d := range p.Get("Dimensions").List() {
				if n := d.Get("Name").Text(); n != "ApiId" && n != "Stage" && n != "Route" {
					t.Errorf("%s: dimension %s is not an HTTP API dimension (ApiId, Stage, Route)", id, n)
				}
			}
		}
	}
	for _, w := range []alarm{
		{"AWS/Lambda", "Errors", "FunctionName", "WebhookFunction"},
		{"AWS/Lambda", "Throttles", "FunctionName", "WebhookFunction"},
		{"AWS/ApiGateway", "5xx", "ApiId", "HttpApi"},
		{"AWS/Lambda", "IteratorAge", "FunctionName", "NotifierFunction"},
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "NotifierDeadLetterQueue.QueueName"},
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "DisconnectCheckDeadLetterQueue.QueueName"},
	} {
		if !got[w] {
			t.Errorf("no alarm on %s %s by %s %s", w.namespace, w.metric, w.dimension, w.target)
		}
	}
	key := props(t, tp, "AlertsKey")
	if !key.Get("EnableKeyRotation").Bool() {
		t.Error("AlertsKey rotation is off")
	}
	var principals []string
	for _, st := range samtemplate.Statements(key.Get("KeyPolicy")) {
		principals = append(principals, st.Get("Principal", "Service").Target(), st.Get("Principal", "AWS").Target())
	}
	for _, p := range []string{"cloudwatch.amazonaws.com", "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"} {
		if !slices.Contains(principals, p) {
			t.Errorf("AlertsKey policy does not let %s use the key", p)
		}
	}
}

// Every parameter the operator may be asked for is explained: in the
// template when it has no default, and in docs/deploy.md, before its
// other sections.
func TestParametersDocumented(t *testing.T) {
	tp := load(t)
	doc := readRepoFile(t, "docs/deploy.md")
	deploy, _, _ := strings.Cut(string(doc), "\n## ")
	params := tp.Section("Parameters")
	if params.Len() == 0 {
		t.Fatal("no parameters")
	}
	for name, p := range params.Entries() {
		if !p.Get("Default").Exists() && strings.TrimSpace(p.Get("Description").Text()) == "" {
			t.Errorf("parameter %s has neither a default nor a Description", name)
		}
		if !strings.Contains(deploy, "`"+name+"`") {
			t.Errorf("parameter %s is not explained in docs/deploy.md", name)
		}
	}
}

// The signing secret is never in the template: not as a parameter value,
// not as the secret's value, not as a function's environment.
func TestNoSecretValueInTemplate(t *testing.T) {
	tp := load(t)
	for _, name := range tp.Section("Parameters").Keys() {
		if strings.Contains(strings.ToLower(name), "secret") {
			t.Errorf("parameter %s: the secret is filled in after deploy, never passed as a parameter", name)
		}
	}
	for _, id := range tp.ResourcesOfType("AWS::SecretsManager::Secret") {
		p := props(t, tp, id)
		for _, k := range []string{"SecretString", "GenerateSecretString"} {
			if p.Get(k).Exists() {
				t.Errorf("%s sets %s: the operator fills in the FastPix secret", id, k)
			}
		}
	}
	for _, f := range functions {
		if props(t, tp, f.id).Get("Environment", "Variables", "FASTPIX_WEBHOOK_SECRET").Exists() {
			t.Errorf("%s has FASTPIX_WEBHOOK_SECRET (local runs only); deployed functions read the ARN", f.id)
		}
	}
	for id, o := range tp.Section("Outputs").Entries() {
		for _, ref := range o.Get("Value").Refs() {
			if tp.TypeOf(ref) == "AWS::SecretsManager::Secret" && o.Get("Value").Target() != ref {
				t.Errorf("output %s exposes more of %s than its ARN", id, ref)
			}
		}
	}
}

func TestOutputs(t *testing.T) {
	tp := load(t)
	outs := tp.Section("Outputs")
	for name, want := range map[string]string{
		"WebhookUrl":                    "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/webhooks/fastpix",
		"EventsTableName":               "EventLogTable",
		"StreamStateTableName":          "StreamStateTable",
		"StreamLiveTopicArn":            "StreamLiveTopic",
		"StreamDisconnectedTopicArn":    "StreamDisconnectedTopic",
		"SimulcastBroadcastingTopicArn": "SimulcastBroadcastingTopic",
		"OperationsTopicArn":            "OperationsTopic",
		"StreamChangesTopicArn":         "StreamChangesTopic",
		"NotifierDeadLetterQueueUrl":    "NotifierDeadLetterQueue",
		"WebhookSecretArn":              "WebhookSecret",
	} {
		if got := outs.Get(name, "Value").Target(); got != want {
			t.Errorf("output %s = %q, want %q", name, got, want)
		}
	}
}

// numberOrDefault is n's number, or the default of the parameter n refers
// to (!Ref Param).
func numberOrDefault(t *testing.T, tp *samtemplate.Template, n samtemplate.Node) float64 {
	t.Helper()
	if v, ok := n.Number(); ok {
		return v
	}
	if name, _ := n.Intrinsic(); name == "Ref" {
		if v, ok := tp.Parameter(n.Target()).Get("Default").Number(); ok {
			return v
		}
		if v, err := strconv.ParseFloat(tp.Parameter(n.Target()).Get("Default").Text(), 64); err == nil {
			return v
		}
	}
	t.Errorf("%v is neither a number nor a parameter with a numeric default", n)
	return 0
}
