package templatetest

import (
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
)

// The webhook is the only route without IAM, and it takes every method (so
// a GET is answered by the handler's 405, not API Gateway's 404), on the
// one path FastPix posts to; nothing else is open.
func TestOnlyTheWebhookRouteIsOpen(t *testing.T) {
	tp := load(t)
	var open []string
	for _, rt := range tp.HTTPRoutes() {
		key := rt.RouteKey()
		if a := rt.Properties.Get("Auth", "Authorizer").Text(); a == "" || a == "NONE" {
			open = append(open, rt.Function+" "+key)
		}
		if rt.Function != "WebhookFunction" && (rt.Method == "ANY" || strings.Contains(rt.Path, "+}")) {
			t.Errorf("%s event %s: %s takes more than its method and path", rt.Function, rt.Event, key)
		}
	}
	if want := []string{"WebhookFunction ANY /webhooks/fastpix"}; !slices.Equal(open, want) {
		t.Errorf("open routes = %v, want %v", open, want)
	}
	if def := tp.Globals("HttpApi").Get("Auth", "DefaultAuthorizer"); def.Exists() {
		t.Errorf("Globals.HttpApi.Auth.DefaultAuthorizer = %v: the webhook must stay open (FastPix cannot sign for IAM)", def)
	}
}

// Resources whose contents a person made or still needs outlive the stack
// and a replacement: the tables (events, state), the signing secret (typed
// in by hand) and the dead-letter queue (batches not yet redriven). Every
// other stateful resource says what becomes of it, as cfn-lint's I3011
// asks: nothing is deleted by an unspoken default.
func TestStatefulResourcesSayWhatHappensOnDelete(t *testing.T) {
	tp := load(t)
	retained := []string{"EventLogTable", "StreamStateTable", "WebhookSecret", "NotifierDeadLetterQueue"}
	stateful := []string{"AWS::DynamoDB::Table", "AWS::SecretsManager::Secret", "AWS::SQS::Queue", "AWS::Logs::LogGroup", "AWS::KMS::Key"}
	for _, typ := range stateful {
		for _, id := range tp.ResourcesOfType(typ) {
			r := resource(t, tp, id)
			del, repl := r.Get("DeletionPolicy").Text(), r.Get("UpdateReplacePolicy").Text()
			switch {
			case slices.Contains(retained, id):
				if del != "Retain" || repl != "Retain" {
					t.Errorf("%s: DeletionPolicy %q, UpdateReplacePolicy %q; want Retain for both", id, del, repl)
				}
			case del == "" || repl == "":
				t.Errorf("%s (%s): DeletionPolicy %q, UpdateReplacePolicy %q; say what happens to it", id, typ, del, repl)
			}
		}
	}
	for _, id := range retained {
		if !slices.Contains(stateful, tp.TypeOf(id)) {
			t.Errorf("%s is %q, not one of the stateful types checked", id, tp.TypeOf(id))
		}
	}
}

// A mistyped address fails the parameter check at once, instead of rolling
// the whole stack back when SNS refuses the subscription; empty (no
// subscription) stays allowed.
func TestEmailParametersArePatterned(t *testing.T) {
	tp := load(t)
	for _, name := range []string{"AlertEmail", "OperationsEmail"} {
		p := tp.Parameter(name)
		pattern := p.Get("AllowedPattern").Text()
		if pattern == "" || p.Get("ConstraintDescription").Text() == "" {
			t.Errorf("%s: AllowedPattern %q, ConstraintDescription %q; want both", name, pattern, p.Get("ConstraintDescription").Text())
			continue
		}
		// CloudFormation matches the whole value with Java regular
		// expressions; this pattern reads the same in Go's.
		re, err := regexp.Compile(pattern)
		if err != nil {
			t.Errorf("%s: AllowedPattern %q: %v", name, pattern, err)
			continue
		}
		for _, c := range []struct {
			value string
			ok    bool
		}{
			{"", true},
			{"ops@example.com", true},
			{"first.last+alerts@mail.example.co.uk", true},
			{"ops@example", false},
			{"ops.example.com", false},
			{"ops@@example.com", false},
			{"ops @example.com", false},
			{"ops@example.com ", false},
			{"ops@example.com,dev@example.com", false},
		} {
			if got := re.MatchString(c.value); got != c.ok {
				t.Errorf("%s: %q accepted = %v, want %v", name, c.value, got, c.ok)
			}
		}
		if d := p.Get("Default").Text(); d != "" || !re.MatchString(d) {
			t.Errorf("%s: default %q must be empty and allowed", name, d)
		}
	}
}

// CloudWatch may use the alerts key only for this account's alarms in this
// region (the confused-deputy guard AWS recommends for service principals).
func TestKeyPolicyLimitsCloudWatchToOurAlarms(t *testing.T) {
	tp := load(t)
	found := false
	for _, st := range samtemplate.Statements(props(t, tp, "AlertsKey").Get("KeyPolicy")) {
		if st.Get("Principal", "Service").Target() != "cloudwatch.amazonaws.com" {
			continue
		}
		found = true
		cond := st.Get("Condition")
		if got := cond.Get("StringEquals", "aws:SourceAccount").Target(); got != "AWS::AccountId" {
			t.Errorf("aws:SourceAccount = %q, want !Ref AWS::AccountId", got)
		}
		want := "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
		if got := cond.Get("ArnLike", "aws:SourceArn").Target(); got != want {
			t.Errorf("aws:SourceArn = %q, want ArnLike %q", got, want)
		}
	}
	if !found {
		t.Fatal("the key policy has no statement for cloudwatch.amazonaws.com (alarms publish to encrypted topics)")
	}
}

// The platform's REPORT lines (duration, memory, init duration) are INFO:
// a WARN system level drops them.
func TestSystemLogLevelKeepsReportLines(t *testing.T) {
	tp := load(t)
	if got := tp.Globals("Function").Get("LoggingConfig", "SystemLogLevel").Text(); got != "INFO" {
		t.Errorf("Globals.Function.LoggingConfig.SystemLogLevel = %q, want INFO", got)
	}
	for _, id := range tp.ResourcesOfType(samtemplate.TypeFunction) {
		if got := props(t, tp, id).Get("LoggingConfig", "SystemLogLevel"); got.Exists() && got.Text() != "INFO" {
			t.Errorf("%s overrides SystemLogLevel with %v", id, got)
		}
	}
}

// Whoever an alarm pages also hears when it clears.
func TestPagingAlarmsSayWhenTheyClear(t *testing.T) {
	tp := load(t)
	paging := 0
	for _, typ := range []string{"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"} {
		for _, id := range tp.ResourcesOfType(typ) {
			p := props(t, tp, id)
			alarm, ok := targets(p.Get("AlarmActions")), targets(p.Get("OKActions"))
			if len(alarm) == 0 {
				continue
			}
			paging++
			if !slices.Equal(alarm, ok) {
				t.Errorf("%s: AlarmActions %v, OKActions %v; want the same", id, alarm, ok)
			}
		}
	}
	if paging == 0 {
		t.Fatal("no alarm pages anyone")
	}
}

// targets lists what each item of a list refers to, sorted.
func targets(v samtemplate.Node) []string {
	var out []string
	for _, a := range v.List() {
		out = append(out, a.Target())
	}
	sort.Strings(out)
	return out
}

// Each function's answer to a stalled dependency comes from the function,
// not from Lambda killing it: its timeout leaves room beyond the margins the
// code keeps (ingest's store budget, every AWS call's), and the HTTP
// functions answer within the HTTP API's 30 s integration limit.
func TestTimeoutsLeaveRoomToAnswer(t *testing.T) {
	tp := load(t)
	global, _ := tp.Globals("Function").Get("Timeout").Number()
	for _, id := range tp.ResourcesOfType(samtemplate.TypeFunction) {
		p := props(t, tp, id)
		timeout := global
		if v, ok := p.Get("Timeout").Number(); ok {
			timeout = v
		}
		d := time.Duration(timeout) * time.Second
		if d <= 2*max(ingest.DefaultDeadlineMargin, lambdaenv.CallMargin) {
			t.Errorf("%s: timeout %v leaves no time for a call before its margin", id, d)
		}
		for _, ev := range p.Get("Events").Entries() {
			if ev.Get("Type").Text() == "HttpApi" && d > 30*time.Second {
				t.Errorf("%s: timeout %v is beyond the HTTP API's 30 s integration limit", id, d)
			}
		}
	}
}

// What the tests above read in template.yaml is what AWS deploys: the SAM
// translator (as cfn-lint runs it) keeps the webhook route open on any
// method with the stage's throttling, creates every function's log group
// before it, and keeps the INFO system log level.
func TestTransformedTemplateKeepsTheHardening(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the SAM translator check is skipped")
	}
	if exec.Command(py, "-c", "import cfnlint, samtranslator").Run() != nil {
		t.Skip("cfn-lint (with the SAM translator) is not installed: the check is skipped")
	}
	const transform = `
import json, sys
from cfnlint.decode import decode
from cfnlint.template.transforms._sam import Transform
tpl, matches = decode(sys.argv[1])
if matches:
    sys.exit("decode: " + "; ".join(str(x) for x in matches))
tr = Transform(sys.argv[1], tpl, "us-east-1")
errs = tr.transform_template()
if errs:
    sys.exit("transform: " + "; ".join(str(x) for x in errs))
json.dump(tr.template(), sys.stdout)
`
	cmd := exec.Command(py, "-c", transform, "template.yaml")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("SAM transform: %v %s", err, msg)
	}
	// The transformed template is JSON, which the template reader reads as
	// it reads YAML.
	cfn, err := samtemplate.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	res := cfn.Resources()

	api := resource(t, cfn, "HttpApi")
	if api.Type() != "AWS::ApiGatewayV2::Api" {
		t.Fatalf("HttpApi transformed to %q", api.Type())
	}
	var open []string
	for p, ops := range api.Properties().Get("Body", "paths").Entries() {
		for method, op := range ops.Entries() {
			if len(op.Get("security").List()) == 0 {
				open = append(open, method+" "+p)
			}
		}
	}
	if want := []string{"x-amazon-apigateway-any-method /webhooks/fastpix"}; !slices.Equal(open, want) {
		t.Errorf("transformed open routes = %v, want %v", open, want)
	}
	stageFound := false
	for _, r := range res {
		if r.Type() != "AWS::ApiGatewayV2::Stage" {
			continue
		}
		stageFound = true
		for _, k := range []string{"ThrottlingRateLimit", "ThrottlingBurstLimit"} {
			if v := numberOrDefault(t, cfn, r.Properties().Get("DefaultRouteSettings", k)); v <= 0 {
				t.Errorf("the transformed stage has no %s", k)
			}
		}
	}
	if !stageFound {
		t.Error("no AWS::ApiGatewayV2::Stage in the transformed template")
	}
	for _, f := range functions {
		r, err := cfn.Resource(f.id)
		if err != nil || r.Type() != "AWS::Lambda::Function" {
			t.Errorf("%s transformed to %q", f.id, r.Type())
			continue
		}
		lc := r.Properties().Get("LoggingConfig")
		if lc.Get("SystemLogLevel").Text() != "INFO" || lc.Get("LogFormat").Text() != "JSON" {
			t.Errorf("%s: transformed LoggingConfig %v, want JSON and SystemLogLevel INFO", f.id, lc)
		}
		name := r.Properties().Get("FunctionName").Target()
		group := ""
		for _, g := range res {
			if g.Type() == "AWS::Logs::LogGroup" && g.Properties().Get("LogGroupName").Target() == "/aws/lambda/"+name {
				group = g.ID
			}
		}
		if deps := r.Get("DependsOn"); group == "" || !slices.Contains(deps.Texts(), group) {
			t.Errorf("%s (%s): log group %q, DependsOn %v; want its group created first", f.id, name, group, deps)
		}
	}
}
