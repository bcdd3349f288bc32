package templatetest

import "testing"

// Every function's log group is declared, so its logs expire
// (LogRetentionDays) instead of being kept, and paid for, forever.
func TestFunctionLogGroupsExpire(t *testing.T) {
	tp := load(t)
	groups := map[string]map[string]any{} // log group name → properties
	for _, id := range tp.ofType("AWS::Logs::LogGroup") {
		p := tp.props(t, id)
		groups[target(p["LogGroupName"])] = p
	}
	for _, f := range functions {
		name := "/aws/lambda/${" + f.id + "}"
		p, ok := groups[name]
		if !ok {
			t.Errorf("%s: no AWS::Logs::LogGroup named %s", f.id, name)
			continue
		}
		if target(p["RetentionInDays"]) != "LogRetentionDays" {
			t.Errorf("%s: retention is %v, want !Ref LogRetentionDays", name, p["RetentionInDays"])
		}
	}
}
