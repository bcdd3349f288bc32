package templatetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/dynamodb"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

var functions = []struct {
	id  string
	env []string // the variables the function's ConfigFromEnv (internal/app) reads
}{
	{"WebhookFunction", []string{"EVENTS_TABLE", "RETENTION_DAYS", "FASTPIX_WEBHOOK_SECRET_ARN"}},
	{"NotifierFunction", []string{"STATE_TABLE", "ALERT_ROUTES", "PUBLISH_TEST_EVENTS"}},
	{"StreamsFunction", []string{"EVENTS_TABLE", "STATE_TABLE"}},
}

// The project's own loader (goformation, conditions evaluated) reads the
// whole template: the local stack and every integration test create their
// tables through it.
func TestProjectLoaderReadsTemplate(t *testing.T) {
	tp, err := samtemplate.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	fns := tp.GetAllServerlessFunctionResources()
	for _, f := range functions {
		if _, ok := fns[f.id]; !ok {
			t.Errorf("goformation sees no AWS::Serverless::Function %s", f.id)
		}
	}
	if _, err := tp.GetServerlessHttpApiWithName("HttpApi"); err != nil {
		t.Errorf("HttpApi: %v", err)
	}
}

func TestGlobals(t *testing.T) {
	g := path(load(t), "Globals", "Function")
	for _, c := range []struct {
		key  []string
		want string
	}{
		{[]string{"Runtime"}, "provided.al2023"},
		{[]string{"Handler"}, "bootstrap"},
		{[]string{"Tracing"}, "Active"},
		{[]string{"LoggingConfig", "LogFormat"}, "JSON"},
	} {
		if got := s(path(g, c.key...)); got != c.want {
			t.Errorf("Globals.Function.%s = %q, want %q", strings.Join(c.key, "."), got, c.want)
		}
	}
	if a := l(path(g, "Architectures")); len(a) != 1 || s(a[0]) != "arm64" {
		t.Errorf("Globals.Function.Architectures = %v, want [arm64]", a)
	}
	for _, k := range []string{"Timeout", "MemorySize"} {
		if v, _ := path(g, k).(float64); v <= 0 {
			t.Errorf("Globals.Function.%s is not set", k)
		}
	}
}

// sam build calls `make build-<LogicalId>` for a function whose Metadata
// says BuildMethod makefile; every such function needs its target, and
// every target its function.
func TestEveryFunctionHasItsMakefileTarget(t *testing.T) {
	tp := load(t)
	mk, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, mt := range regexp.MustCompile(`(?m)^build-([A-Za-z0-9]+):`).FindAllStringSubmatch(string(mk), -1) {
		targets[mt[1]] = true
	}
	fns := tp.ofType("AWS::Serverless::Function")
	for _, id := range fns {
		r := tp.resource(t, id)
		if bm := s(path(r, "Metadata", "BuildMethod")); bm != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod = %q, want makefile", id, bm)
		}
		if cu := s(path(r, "Properties", "CodeUri")); cu != "." {
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
			vars := m(path(tp.props(t, f.id), "Environment", "Variables"))
			var got []string
			for k := range vars {
				got = append(got, k)
			}
			sort.Strings(got)
			want := slices.Sorted(slices.Values(f.env))
			if !slices.Equal(got, want) {
				t.Errorf("environment = %v, want %v", got, want)
			}
			for k, v := range vars {
				for _, ref := range refs(v) {
					if !strings.HasPrefix(ref, "AWS::") && tp.resources()[ref] == nil && m(tp["Parameters"])[ref] == nil {
						t.Errorf("%s refers to %s, which the template does not declare", k, ref)
					}
				}
			}
		})
	}
	webhook := m(path(tp.props(t, "WebhookFunction"), "Environment", "Variables"))
	for k, want := range map[string]string{"EVENTS_TABLE": "EventsTable", "FASTPIX_WEBHOOK_SECRET_ARN": "WebhookSecret", "RETENTION_DAYS": "RetentionDays"} {
		if got := target(webhook[k]); got != want {
			t.Errorf("WebhookFunction %s = %s, want Ref %s", k, got, want)
		}
	}
}

// The tables' keys, index and TTL attribute are the names the code reads
// and writes, and both are protected.
func TestTablesMatchTheCode(t *testing.T) {
	tp, err := samtemplate.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	raw := load(t)
	hash := func(id string, ks []dynamodb.Table_KeySchema) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.KeyType+":"+k.AttributeName)
		}
		return out
	}
	cases := []struct {
		id      string
		key     []string
		indexes map[string][]string
		ttl     string
		stream  string
	}{
		{
			id:      "EventsTable",
			key:     []string{"HASH:" + eventstore.KeyEventID},
			indexes: map[string][]string{eventstore.IndexByStream: {"HASH:" + eventstore.AttrStreamID, "RANGE:" + eventstore.AttrOccurredAt}},
			ttl:     eventstore.AttrExpiresAt,
			stream:  "NEW_IMAGE",
		},
		{
			id:  "StreamStateTable",
			key: []string{"HASH:" + streamstate.KeyStreamID},
		},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			tbl, err := tp.GetDynamoDBTableWithName(c.id)
			if err != nil {
				t.Fatal(err)
			}
			if got := hash(c.id, tbl.KeySchema); !slices.Equal(got, c.key) {
				t.Errorf("key schema = %v, want %v", got, c.key)
			}
			got := map[string][]string{}
			for _, g := range tbl.GlobalSecondaryIndexes {
				got[g.IndexName] = hash(c.id, g.KeySchema)
			}
			if len(got) != len(c.indexes) {
				t.Errorf("indexes = %v, want %v", got, c.indexes)
			}
			for name, keys := range c.indexes {
				if !slices.Equal(got[name], keys) {
					t.Errorf("index %s = %v, want %v", name, got[name], keys)
				}
			}
			defined := map[string]bool{}
			for _, a := range tbl.AttributeDefinitions {
				defined[a.AttributeName] = true
			}
			for _, k := range slices.Concat(append([][]string{c.key}, mapValues(c.indexes)...)...) {
				_, name, _ := strings.Cut(k, ":")
				if !defined[name] {
					t.Errorf("key attribute %s has no AttributeDefinition", name)
				}
			}
			if len(defined) != len(slices.Compact(slices.Sorted(slices.Values(keyNames(c.key, c.indexes))))) {
				t.Errorf("attribute definitions %v: DynamoDB refuses definitions that are not keys", defined)
			}
			ttl := ""
			if tbl.TimeToLiveSpecification != nil && tbl.TimeToLiveSpecification.AttributeName != nil {
				ttl = *tbl.TimeToLiveSpecification.AttributeName
			}
			if ttl != c.ttl {
				t.Errorf("TTL attribute = %q, want %q", ttl, c.ttl)
			}
			stream := ""
			if tbl.StreamSpecification != nil {
				stream = tbl.StreamSpecification.StreamViewType
			}
			if stream != c.stream {
				t.Errorf("stream = %q, want %q", stream, c.stream)
			}

			r := raw.resource(t, c.id)
			p := m(r["Properties"])
			for _, check := range []struct {
				what string
				ok   bool
			}{
				{"PAY_PER_REQUEST billing", s(p["BillingMode"]) == "PAY_PER_REQUEST"},
				{"point-in-time recovery", path(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled") == true},
				{"server-side encryption", path(p, "SSESpecification", "SSEEnabled") == true},
				{"deletion protection from the DeletionProtection parameter", strings.Contains(target(p["DeletionProtectionEnabled"]), "ProtectTables")},
				{"DeletionPolicy Retain", s(r["DeletionPolicy"]) == "Retain"},
				{"UpdateReplacePolicy Retain", s(r["UpdateReplacePolicy"]) == "Retain"},
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
	v := path(tp.props(t, "NotifierFunction"), "Environment", "Variables", "ALERT_ROUTES")
	if _, ok := m(v)["Fn::Sub"]; !ok {
		t.Fatalf("ALERT_ROUTES is not a !Sub over the topics: %v", v)
	}
	var routes map[string]string
	if err := json.Unmarshal([]byte(target(v)), &routes); err != nil {
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
		if tp.typeOf(id) != "AWS::SNS::Topic" {
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
	for _, id := range tp.ofType("AWS::SNS::Topic") {
		if k := target(tp.props(t, id)["KmsMasterKeyId"]); k != "AlertsKey" {
			t.Errorf("%s is encrypted with %q, want AlertsKey", id, k)
		}
	}
	subs := map[string]bool{}
	for _, id := range tp.ofType("AWS::SNS::Subscription") {
		p := tp.props(t, id)
		subs[target(p["TopicArn"])+"/"+s(p["Protocol"])+"/"+target(p["Endpoint"])+"/"+s(tp.resource(t, id)["Condition"])] = true
	}
	for _, topic := range want {
		for _, sub := range []string{topic + "/email/AlertEmail/HasAlertEmail", topic + "/sms/AlertPhone/HasAlertPhone"} {
			if !subs[sub] {
				t.Errorf("no subscription %s (topic/protocol/endpoint/condition)", sub)
			}
		}
	}
}

type grant struct{ action, resource string }

// statements returns the function's own policy statements as action →
// resource pairs. Only inline statements are allowed: SAM policy templates
// and managed policy names are wider than the function needs.
func statements(t *testing.T, tp tmpl, fn string) []grant {
	t.Helper()
	var out []grant
	for _, pol := range l(tp.props(t, fn)["Policies"]) {
		doc := m(pol)
		if doc == nil || doc["Statement"] == nil || len(doc) > 2 {
			t.Errorf("%s: policy %v is not an inline policy document", fn, pol)
			continue
		}
		for _, st := range l(doc["Statement"]) {
			sm := m(st)
			if s(sm["Effect"]) != "Allow" {
				t.Errorf("%s: statement %v: Effect must be Allow", fn, sm["Sid"])
			}
			for _, a := range l(sm["Action"]) {
				for _, r := range l(sm["Resource"]) {
					out = append(out, grant{s(a), target(r)})
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
			{"dynamodb:PutItem", "EventsTable.Arn"},
			{"secretsmanager:GetSecretValue", "WebhookSecret"},
		},
		"NotifierFunction": {
			{"dynamodb:GetItem", "StreamStateTable.Arn"},
			{"dynamodb:UpdateItem", "StreamStateTable.Arn"},
			{"kms:Decrypt", "AlertsKey.Arn"},
			{"kms:GenerateDataKey", "AlertsKey.Arn"},
			{"sns:Publish", "SimulcastBroadcastingTopic"},
			{"sns:Publish", "StreamDisconnectedTopic"},
			{"sns:Publish", "StreamLiveTopic"},
			{"sqs:SendMessage", "NotifierDeadLetterQueue.Arn"},
		},
		"StreamsFunction": {
			{"dynamodb:GetItem", "StreamStateTable.Arn"},
			{"dynamodb:Query", "${EventsTable.Arn}/index/" + eventstore.IndexByStream},
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
	for id, r := range tp.resources() {
		var walk func(where string, v any)
		walk = func(where string, v any) {
			switch x := v.(type) {
			case map[string]any:
				if sts, ok := x["Statement"]; ok {
					for _, st := range l(sts) {
						n++
						sm := m(st)
						if tp.typeOf(id) == "AWS::KMS::Key" && strings.HasSuffix(where, "KeyPolicy") {
							continue
						}
						res := l(sm["Resource"])
						if len(res) == 0 {
							t.Errorf("%s%s: statement %v has no Resource", id, where, sm["Sid"])
						}
						for _, rv := range res {
							if rs := target(rv); rs == "*" || strings.HasSuffix(rs, ":*") || strings.HasSuffix(rs, "/*") {
								t.Errorf("%s%s: statement %v grants on %q", id, where, sm["Sid"], rs)
							}
							for _, ref := range refs(rv) {
								if !strings.HasPrefix(ref, "AWS::") && tp.resources()[ref] == nil {
									t.Errorf("%s%s: statement %v names %s, not a resource of the template", id, where, sm["Sid"], ref)
								}
							}
						}
						for _, a := range l(sm["Action"]) {
							if strings.Contains(s(a), "*") {
								t.Errorf("%s%s: statement %v allows %q", id, where, sm["Sid"], s(a))
							}
						}
					}
				}
				for k, c := range x {
					walk(where+"."+k, c)
				}
			case []any:
				for i, c := range x {
					walk(where+"["+strconv.Itoa(i)+"]", c)
				}
			}
		}
		walk("", r)
	}
	if n == 0 {
		t.Fatal("found no policy statement at all")
	}
}

// The notifier's stream event: new events only, partial batch failures,
// finite retries, and the dead-letter queue for what gives up.
func TestNotifierEventSource(t *testing.T) {
	tp := load(t)
	var p map[string]any
	for _, ev := range m(tp.props(t, "NotifierFunction")["Events"]) {
		if s(m(ev)["Type"]) == "DynamoDB" {
			p = m(m(ev)["Properties"])
		}
	}
	if p == nil {
		t.Fatal("NotifierFunction has no DynamoDB event")
	}
	num := func(k string) float64 { v, _ := p[k].(float64); return v }
	var patterns []string
	for _, f := range l(path(p, "FilterCriteria", "Filters")) {
		patterns = append(patterns, s(m(f)["Pattern"]))
	}
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"Stream is EventsTable.StreamArn", target(p["Stream"]) == "EventsTable.StreamArn"},
		{`FilterCriteria lets only INSERT through`, slices.Equal(patterns, []string{`{"eventName":["INSERT"]}`})},
		{"FunctionResponseTypes [ReportBatchItemFailures]", slices.Equal(l(p["FunctionResponseTypes"]), []any{"ReportBatchItemFailures"})},
		{"BisectBatchOnFunctionError", p["BisectBatchOnFunctionError"] == true},
		{"finite MaximumRetryAttempts (0..10000)", p["MaximumRetryAttempts"] != nil && num("MaximumRetryAttempts") >= 0 && num("MaximumRetryAttempts") <= 10000},
		{"finite MaximumRecordAgeInSeconds (60..604800)", num("MaximumRecordAgeInSeconds") >= 60 && num("MaximumRecordAgeInSeconds") <= 604800},
		{"on-failure destination: the SQS dead-letter queue", target(path(p, "DestinationConfig", "OnFailure", "Destination")) == "NotifierDeadLetterQueue.Arn" && s(path(p, "DestinationConfig", "OnFailure", "Type")) == "SQS"},
		{"the dead-letter queue keeps messages a set time", path(tp.props(t, "NotifierDeadLetterQueue"), "MessageRetentionPeriod") != nil},
	} {
		if !c.ok {
			t.Errorf("notifier event source: want %s", c.what)
		}
	}
}

// The HTTP API: the webhook route open (FastPix signs, it does not sign
// in), the query routes IAM-signed, throttled, access-logged.
func TestHTTPAPI(t *testing.T) {
	tp := load(t)
	type route struct{ fn, auth string }
	got := map[string]route{}
	for _, id := range tp.ofType("AWS::Serverless::Function") {
		for _, ev := range m(tp.props(t, id)["Events"]) {
			if s(m(ev)["Type"]) != "HttpApi" {
				continue
			}
			p := m(m(ev)["Properties"])
			if target(p["ApiId"]) != "HttpApi" {
				t.Errorf("%s route %s is not on HttpApi", id, s(p["Path"]))
			}
			got[s(p["Method"])+" "+s(p["Path"])] = route{id, s(path(p, "Auth", "Authorizer"))}
		}
	}
	want := map[string]route{
		"ANY /webhooks/fastpix":          {"WebhookFunction", ""},
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
	if ids := tp.ofType("AWS::Serverless::HttpApi"); !slices.Equal(ids, []string{"HttpApi"}) {
		t.Fatalf("HTTP APIs = %v, want [HttpApi]", ids)
	}
	g := path(tp, "Globals", "HttpApi")
	if path(g, "Auth", "EnableIamAuthorizer") != true {
		t.Error("Globals.HttpApi.Auth.EnableIamAuthorizer must be true for AWS_IAM routes")
	}
	for _, k := range []string{"ThrottlingRateLimit", "ThrottlingBurstLimit"} {
		if v, _ := path(g, "DefaultRouteSettings", k).(float64); v <= 0 {
			t.Errorf("DefaultRouteSettings.%s is not set", k)
		}
	}
	dest := target(path(g, "AccessLogSettings", "DestinationArn"))
	group, attr, _ := strings.Cut(dest, ".")
	if attr != "Arn" || tp.typeOf(group) != "AWS::Logs::LogGroup" {
		t.Fatalf("access logs go to %q, want a log group's Arn", dest)
	}
	if path(tp.props(t, group), "RetentionInDays") == nil {
		t.Errorf("%s keeps logs forever: set RetentionInDays", group)
	}
	if f := s(path(g, "AccessLogSettings", "Format")); !json.Valid([]byte(strings.ReplaceAll(f, "$", ""))) || strings.Contains(strings.ToLower(f), "header") {
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
	for _, id := range tp.ofType("AWS::CloudWatch::CompositeAlarm") {
		for _, ref := range refs(tp.props(t, id)["AlarmRule"]) {
			inputs[ref] = true
		}
	}
	for _, id := range tp.ofType("AWS::CloudWatch::Alarm") {
		p := tp.props(t, id)
		ns, metric := s(p["Namespace"]), s(p["MetricName"])
		if !inputs[id] && !slices.ContainsFunc(l(p["AlarmActions"]), func(a any) bool { return target(a) == "OperationsTopic" }) {
			t.Errorf("%s does not notify OperationsTopic", id)
		}
		for _, d := range l(p["Dimensions"]) {
			got[alarm{ns, metric, s(m(d)["Name"]), target(m(d)["Value"])}] = true
		}
		if ns == "AWS/ApiGateway" {
			if !slices.Contains([]string{"5xx", "4xx", "Count", "Latency", "IntegrationLatency", "DataProcessed"}, metric) {
				t.Errorf("%s: %s is not an HTTP API metric (5xx, 4xx, Count, Latency, IntegrationLatency, DataProcessed)", id, metric)
			}
			for _, d := range l(p["Dimensions"]) {
				if n := s(m(d)["Name"]); n != "ApiId" && n != "Stage" && n != "Route" {
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
	} {
		if !got[w] {
			t.Errorf("no alarm on %s %s by %s %s", w.namespace, w.metric, w.dimension, w.target)
		}
	}
	key := tp.props(t, "AlertsKey")
	if key["EnableKeyRotation"] != true {
		t.Error("AlertsKey rotation is off")
	}
	var principals []string
	for _, st := range l(path(key, "KeyPolicy", "Statement")) {
		principals = append(principals, target(path(st, "Principal", "Service")), target(path(st, "Principal", "AWS")))
	}
	for _, p := range []string{"cloudwatch.amazonaws.com", "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"} {
		if !slices.Contains(principals, p) {
			t.Errorf("AlertsKey policy does not let %s use the key", p)
		}
	}
}

// Every parameter the operator may be asked for is explained: in the
// template when it has no default, and in the README's Deploy section.
func TestParametersDocumented(t *testing.T) {
	tp := load(t)
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, deploy, _ := strings.Cut(string(readme), "\n## Deploy\n")
	deploy, _, _ = strings.Cut(deploy, "\n## ")
	params := m(tp["Parameters"])
	if len(params) == 0 {
		t.Fatal("no parameters")
	}
	for name, p := range params {
		if _, ok := m(p)["Default"]; !ok && strings.TrimSpace(s(m(p)["Description"])) == "" {
			t.Errorf("parameter %s has neither a default nor a Description", name)
		}
		if !strings.Contains(deploy, "`"+name+"`") {
			t.Errorf("parameter %s is not explained in README.md, section Deploy", name)
		}
	}
}

// The signing secret is never in the template: not as a parameter value,
// not as the secret's value, not as a function's environment.
func TestNoSecretValueInTemplate(t *testing.T) {
	tp := load(t)
	for name, p := range m(tp["Parameters"]) {
		if strings.Contains(strings.ToLower(name), "secret") {
			t.Errorf("parameter %s: the secret is filled in after deploy, never passed as a parameter", name)
		}
		_ = p
	}
	for _, id := range tp.ofType("AWS::SecretsManager::Secret") {
		p := tp.props(t, id)
		for _, k := range []string{"SecretString", "GenerateSecretString"} {
			if _, ok := p[k]; ok {
				t.Errorf("%s sets %s: the operator fills in the FastPix secret", id, k)
			}
		}
	}
	for _, f := range functions {
		if _, ok := m(path(tp.props(t, f.id), "Environment", "Variables"))["FASTPIX_WEBHOOK_SECRET"]; ok {
			t.Errorf("%s has FASTPIX_WEBHOOK_SECRET (local runs only); deployed functions read the ARN", f.id)
		}
	}
	for id, o := range m(tp["Outputs"]) {
		for _, ref := range refs(m(o)["Value"]) {
			if tp.typeOf(ref) == "AWS::SecretsManager::Secret" && target(m(o)["Value"]) != ref {
				t.Errorf("output %s exposes more of %s than its ARN", id, ref)
			}
		}
	}
}

func TestOutputs(t *testing.T) {
	tp := load(t)
	outs := m(tp["Outputs"])
	for name, want := range map[string]string{
		"WebhookUrl":                    "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/webhooks/fastpix",
		"EventsTableName":               "EventsTable",
		"StreamStateTableName":          "StreamStateTable",
		"StreamLiveTopicArn":            "StreamLiveTopic",
		"StreamDisconnectedTopicArn":    "StreamDisconnectedTopic",
		"SimulcastBroadcastingTopicArn": "SimulcastBroadcastingTopic",
		"OperationsTopicArn":            "OperationsTopic",
		"NotifierDeadLetterQueueUrl":    "NotifierDeadLetterQueue",
		"WebhookSecretArn":              "WebhookSecret",
	} {
		if got := target(m(outs[name])["Value"]); got != want {
			t.Errorf("output %s = %q, want %q", name, got, want)
		}
	}
}
