package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
)

// EveningStep is one event of a scripted evening: a stream of a workspace
// changes status, or one of its simulcast targets does (Simulcast set).
type EveningStep struct {
	WorkspaceID, WorkspaceName string
	StreamID                   string
	// Status is the stream's (connected, active, disconnected, idle), or
	// the simulcast target's when Simulcast is set.
	Status    string
	Simulcast string
}

// Type is the step's event type.
func (s EveningStep) Type() string {
	if s.Simulcast != "" {
		return "video.live_stream.simulcast." + s.Status
	}
	return "video.live_stream." + s.Status
}

// Evening is a scripted evening of three workspaces (a sports league, a
// church network, an agency's client): streams connect, go live, drop and
// come back, and simulcast targets broadcast. Its events are constructed
// in FastPix's shape (the seed's envelope); with the disconnect grace at
// 0, it makes live, disconnected, recovered and simulcast alerts in every
// workspace.
var Evening = []EveningStep{
	{"ws-league", "Premier League", "st-final", "connected", ""},
	{"ws-league", "Premier League", "st-semi", "connected", ""},
	{"ws-church", "Church Network", "st-sunday", "connected", ""},
	{"ws-agency", "Agency: Client A", "st-client", "connected", ""},
	{"ws-league", "Premier League", "st-final", "active", ""},
	{"ws-church", "Church Network", "st-sunday", "active", ""},
	{"ws-league", "Premier League", "st-final", "broadcasting", "sim-final-yt"},
	{"ws-agency", "Agency: Client A", "st-client", "active", ""},
	{"ws-league", "Premier League", "st-semi", "active", ""},
	{"ws-agency", "Agency: Client A", "st-client", "broadcasting", "sim-client-fb"},
	{"ws-league", "Premier League", "st-final", "disconnected", ""},
	{"ws-church", "Church Network", "st-sunday", "disconnected", ""},
	{"ws-league", "Premier League", "st-final", "active", ""},
	{"ws-league", "Premier League", "st-semi", "disconnected", ""},
	{"ws-church", "Church Network", "st-sunday", "active", ""},
	{"ws-agency", "Agency: Client A", "st-client", "disconnected", ""},
}

// EveningDeliveries builds the evening's events, a second apart from
// start; run makes their ids unique to one run.
func EveningDeliveries(run string, steps []EveningStep, start time.Time) ([]Delivery, error) {
	seed, err := readSeed()
	if err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(steps))
	for i, s := range steps {
		d, err := seed.evening(run, i, s, start.Add(time.Duration(i)*time.Second))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// evening is step i of an evening as FastPix would send it, created at.
func (seed demoSeed) evening(run string, i int, s EveningStep, at time.Time) (Delivery, error) {
	ev := seed
	ev.Object, _ = json.Marshal(map[string]string{"type": "live", "id": s.StreamID})
	ev.Environment, _ = json.Marshal(map[string]string{"name": s.WorkspaceName, "id": s.WorkspaceID})
	data := map[string]any{"streamId": s.StreamID, "status": s.Status, "test": false, "metadata": map[string]any{"demo": ConstructedNote}}
	if s.Simulcast != "" {
		data = map[string]any{"simulcastId": s.Simulcast, "livestreamId": s.StreamID, "isEnabled": true, "status": s.Status}
	}
	return ev.build(run, fmt.Sprint(i), s.Type(), at, data)
}

// SendEvening posts the steps to webhookURL, each created at
// the moment it is sent, and prints a line per event to out (nil: none).
func SendEvening(ctx context.Context, webhookURL, secret, run string, steps []EveningStep, out io.Writer) ([]Sent, error) {
	if out == nil {
		out = io.Discard
	}
	seed, err := readSeed()
	if err != nil {
		return nil, err
	}
	var sent []Sent
	for i, s := range steps {
		d, err := seed.evening(run, i, s, time.Now())
		if err != nil {
			return sent, err
		}
		r, err := Post(ctx, webhookURL, secret, d)
		if err != nil {
			return sent, fmt.Errorf("demo: evening event %d (%s): %w", i+1, s.Type(), err)
		}
		sent = append(sent, r)
		target := ""
		if s.Simulcast != "" {
			target = " target " + s.Simulcast
		}
		fmt.Fprintf(out, "%2d  %-16s %-10s %-44s %d\n", i+1, s.WorkspaceName, s.StreamID, s.Type()+target, r.Status)
	}
	return sent, nil
}

// Person is one of the routing demo's subscribers.
type Person struct {
	Name     string
	Endpoint ops.Endpoint
	ops.Selection
}

// People are the two people of the routing demo: the league's on-call,
// by SMS, and the church network's producer, by email.
var People = []Person{
	{"Alice, the league's on-call", ops.Endpoint{Protocol: "sms", Address: "+14155550100"},
		ops.Selection{WorkspaceID: "ws-league", Kinds: []string{alerts.KindLive, alerts.KindDisconnected, alerts.KindSimulcast}}},
	{"Bob, the church network's producer", ops.Endpoint{Protocol: "email", Address: "bob@church.example.com"},
		ops.Selection{WorkspaceID: "ws-church", Kinds: []string{alerts.KindLive, alerts.KindRecovered}}},
}

// SendRouting shows who gets which alert: the evening's streams connect
// (so the receiver knows their workspaces), People subscribe through
// routing, fastpixctl's subscription code (an earlier run's subscriptions
// are kept), and the rest of the evening is sent to webhookURL. The stack's
// inbox then prints, under each alert, whom it was delivered to.
func SendRouting(ctx context.Context, webhookURL, secret string, routing *ops.Routing, run string, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	Heading(out, 3, "Who gets which alert",
		"An evening of three workspaces. Two people subscribe to their workspace's alerts with filter policies "+
			"(as `fastpixctl subscribe` does), and each gets only theirs: in `make run`'s terminal, each alert is followed "+
			"by a \"-> to …\" line per person it reached. Every event of this part is "+ConstructedNote+".")
	fmt.Fprintln(out, "The streams connect (nothing to alert; the receiver learns their workspaces):")
	connect, rest := Evening[:4], Evening[4:]
	if _, err := SendEvening(ctx, webhookURL, secret, run+"-connect", connect, out); err != nil {
		return err
	}
	// The workspaces are known once the streams' first events are applied.
	if routing.Directory != nil {
		deadline := time.Now().Add(15 * time.Second)
		for _, p := range People {
			for {
				ids, err := routing.Directory.Streams(ctx, p.WorkspaceID)
				if err == nil && len(ids) > 0 {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("demo: the receiver did not learn workspace %s: %v", p.WorkspaceID, err)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	fmt.Fprintln(out)
	for _, p := range People {
		plan, err := routing.Check(ctx, p.Endpoint, p.Selection)
		switch {
		case errors.Is(err, ops.ErrDuplicate):
			fmt.Fprintf(out, "%s (%s): subscribed by an earlier run\n", p.Name, p.Endpoint.Address)
			continue
		case err != nil:
			return fmt.Errorf("demo: subscribe %s: %w", p.Name, err)
		}
		if _, err := routing.Subscribe(ctx, plan); err != nil {
			return fmt.Errorf("demo: subscribe %s: %w", p.Name, err)
		}
		fmt.Fprintf(out, "%s subscribes %s to workspace %s, kinds %s\n", p.Name, p.Endpoint.Address, p.WorkspaceID, strings.Join(p.Kinds, ", "))
	}
	subs, err := routing.List(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nWho gets what (fastpixctl subscriptions):\n%s\n", ops.SubscriptionsTable(subs, ops.AlertTopics(routing.Routes)))
	fmt.Fprintln(out, "The evening:")
	if _, err := SendEvening(ctx, webhookURL, secret, run, rest, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s\n", wrap("In `make run`'s terminal: Alice's phone gets the league's LIVE, SIMULCAST LIVE and DISCONNECTED alerts, "+
		"Bob's email the church's LIVE (and LIVE again after an alerted drop), and neither gets the other's nor the agency's. "+
		"Drops shorter than the grace are not alerted; a long one arrives when the grace has passed.", headingWidth))
	return nil
}
