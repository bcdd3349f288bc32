package templatetest

import (
	"slices"
	"testing"
)

// Every function logs to a log group the stack declares, so its logs expire
// (LogRetentionDays) instead of being kept, and paid for, forever. The
// function names its group (LoggingConfig.LogGroup), so CloudFormation
// creates the group before the function, never after a first event has
// made Lambda create one of the same name.
func TestFunctionLogGroupsExpire(t *testing.T) {
	tp := load(t)
	fns := tp.ofType("AWS::Serverless::Function")
	used := map[string]string{} // log group → function
	for _, f := range functions {
		group := target(path(tp.props(t, f.id), "LoggingConfig", "LogGroup"))
		if tp.typeOf(group) != "AWS::Logs::LogGroup" {
			t.Errorf("%s: LoggingConfig.LogGroup is %q, want !Ref to an AWS::Logs::LogGroup of the template", f.id, group)
			continue
		}
		if other, ok := used[group]; ok {
			t.Errorf("%s and %s share the log group %s", f.id, other, group)
		}
		used[group] = f.id
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
		if deps := l(tp.resource(t, group)["DependsOn"]); len(deps) > 0 {
			t.Errorf("%s depends on %v; the function must depend on it, not the reverse", group, deps)
		}
	}
}
