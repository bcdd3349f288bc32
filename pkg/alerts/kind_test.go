package alerts_test

import (
	"slices"
	"testing"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// Every alert a person can subscribe to carries its kind, with exactly the
// values a subscription chooses among, plus the workspace and the stream.
func TestKindAttribute(t *testing.T) {
	base := alerts.Alert{EventID: "e-1", StreamID: "st-1", WorkspaceID: "ws-1", Type: fastpix.TypeLiveStreamActive, OccurredAt: "2024-04-02T20:00:00Z"}
	cases := []struct {
		name  string
		alert alerts.Alert
		want  string
	}{
		{"rules: live", alerts.FromRule(base, alertrules.Alert{Kind: alertrules.KindLive, Status: "active"}), alerts.KindLive},
		{"rules: recovery reads recovered", alerts.FromRule(base, alertrules.Alert{Kind: alertrules.KindRecovery, Status: "active"}), alerts.KindRecovered},
		{"rules: disconnected", alerts.FromRule(base, alertrules.Alert{Kind: alertrules.KindDisconnected, Status: "disconnected"}), alerts.KindDisconnected},
		{"rules: unstable", alerts.FromRule(base, alertrules.Alert{Kind: alertrules.KindUnstable, Status: "active"}), alerts.KindUnstable},
		{"rules: simulcast", alerts.FromRule(func() alerts.Alert {
			a := base
			a.Type, a.SimulcastID = fastpix.TypeSimulcastTargetBroadcasting, "t-1"
			return a
		}(), alertrules.Alert{Kind: alertrules.KindSimulcast, Status: "broadcasting"}), alerts.KindSimulcast},
		{"event: active", base, alerts.KindLive},
		{"event: disconnected", func() alerts.Alert { a := base; a.Type = fastpix.TypeLiveStreamDisconnected; return a }(), alerts.KindDisconnected},
		{"event: simulcast target", func() alerts.Alert {
			a := base
			a.Type, a.SimulcastID = fastpix.TypeSimulcastTargetBroadcasting, "t-1"
			return a
		}(), alerts.KindSimulcast},
		{"event: simulcast", func() alerts.Alert { a := base; a.Type = fastpix.TypeSimulcastBroadcasting; return a }(), alerts.KindSimulcast},
		{"event: simulcast target errored", func() alerts.Alert { a := base; a.Type = "video.live_stream.simulcast_target.errored"; return a }(), alerts.KindSimulcast},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !slices.Contains(alerts.Kinds, c.want) {
				t.Fatalf("%q is not one of alerts.Kinds %v", c.want, alerts.Kinds)
			}
			attrs := alerts.Render(c.alert).Attributes
			if attrs[alerts.AttrKind] != c.want {
				t.Errorf("kind = %q, want %q (attributes %v)", attrs[alerts.AttrKind], c.want, attrs)
			}
			if attrs[alerts.AttrWorkspaceID] != "ws-1" || attrs[alerts.AttrStreamID] != "st-1" {
				t.Errorf("workspaceId/streamId missing: %v", attrs)
			}
		})
	}
}

// An event type routed by configuration that is no kind (idle, say) has no
// kind attribute rather than an invented one: subscriptions by kind do not
// get it, catch-all ones do.
func TestKindAbsentForOtherTypes(t *testing.T) {
	a := alerts.Alert{EventID: "e", Type: fastpix.TypeLiveStreamIdle, StreamID: "s", WorkspaceID: "w"}
	if k, ok := alerts.Render(a).Attributes[alerts.AttrKind]; ok {
		t.Fatalf("kind = %q on an idle alert", k)
	}
}

func TestKindsAreTheChosenFive(t *testing.T) {
	want := []string{"live", "disconnected", "recovered", "unstable", "simulcast"}
	if !slices.Equal(alerts.Kinds, want) {
		t.Fatalf("Kinds = %v, want %v", alerts.Kinds, want)
	}
}
