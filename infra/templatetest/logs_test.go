package templatetest

import (
	"slices"
	"strings"
	"testing"
)

// Every function's log group is declared, so its logs expire
// (LogRetentionDays) instead of being kept, and paid for, forever. The
// function has a fixed name and DependsOn its group, so CloudFormation
// creates the group before the function, never after a first event has
// made Lambda create one of the same name.
func TestFunctionLogGroupsExpire(t *testing.T) {
	tp := load(t)
	fns := tp.ofType("AWS::Serverless::Function")
	groups := map[string]string{} // log group name → logical id
	for _, id := range tp.ofType("AWS::Logs::LogGroup") {
		groups[target(tp.props(t, id)["LogGroupName"])] = id
	}
	for _, f := range functions {
		name := target(tp.props(t, f.id)["FunctionName"])
		if !strings.HasPrefix(name, "${AWS::StackName}-") {
			t.Errorf("%s: FunctionName %q, want a fixed name, ${AWS::StackName}-…", f.id, name)
			continue
		}
		group, ok := groups["/aws/lambda/"+name]
		if !ok {
			t.Errorf("%s: no AWS::Logs::LogGroup named /aws/lambda/%s", f.id, name)
			continue
		}
		if deps := l(tp.resource(t, f.id)["DependsOn"]); !slices.ContainsFunc(deps, func(d any) bool { return s(d) == group }) {
			t.Errorf("%s: DependsOn %v, want %s (its log group exists before it can run)", f.id, deps, group)
		}
		p := tp.props(t, group)
		if target(p["RetentionInDays"]) != "LogRetentionDays" {
			t.Errorf("%s: retention is %v, want !Ref LogRetentionDays", group, p["RetentionInDays"])
		}
		// A group that referred to a function would be created after it.
		for _, ref := range refs(p["LogGroupName"]) {
			if slices.Contains(fns, ref) {
				t.Errorf("%s: its name refers to %s, so it is created after the function", group, ref)
			}
		}
	}
}
