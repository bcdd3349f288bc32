package templatetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
)

// Every function's log group is declared, so its logs expire
// (LogRetentionDays) instead of being kept, and paid for, forever. The
// function has a fixed name and DependsOn its group, so CloudFormation
// creates the group before the function, never after a first event has
// made Lambda create one of the same name.
func TestFunctionLogGroupsExpire(t *testing.T) {
	tp := load(t)
	fns := tp.ResourcesOfType(samtemplate.TypeFunction)
	groups := map[string]string{} // log group name → logical id
	for _, id := range tp.ResourcesOfType("AWS::Logs::LogGroup") {
		groups[props(t, tp, id).Get("LogGroupName").Target()] = id
	}
	for _, f := range functions {
		name := props(t, tp, f.id).Get("FunctionName").Target()
		if !strings.HasPrefix(name, "${AWS::StackName}-") {
			t.Errorf("%s: FunctionName %q, want a fixed name, ${AWS::StackName}-…", f.id, name)
			continue
		}
		group, ok := groups["/aws/lambda/"+name]
		if !ok {
			t.Errorf("%s: no AWS::Logs::LogGroup named /aws/lambda/%s", f.id, name)
			continue
		}
		if deps := resource(t, tp, f.id).Get("DependsOn").Texts(); !slices.Contains(deps, group) {
			t.Errorf("%s: DependsOn %v, want %s (its log group exists before it can run)", f.id, deps, group)
		}
		p := props(t, tp, group)
		if p.Get("RetentionInDays").Target() != "LogRetentionDays" {
			t.Errorf("%s: retention is %v, want !Ref LogRetentionDays", group, p.Get("RetentionInDays"))
		}
		// A group that referred to a function would be created after it.
		for _, ref := range p.Get("LogGroupName").Refs() {
			if slices.Contains(fns, ref) {
				t.Errorf("%s: its name refers to %s, so it is created after the function", group, ref)
			}
		}
	}
}
