package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
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
	data := map[string]any{"streamId": s.StreamID, "status": s.Status, "test": false, "metadata": map[string]any{"demo": constructedNote}}
	if s.Simulcast != "" {
		data = map[string]any{"simulcastId": s.Simulcast, "livestreamId": s.StreamID, "isEnabled": true, "status": s.Status}
	}
	return ev.build(run, fmt.Sprint(i), s.Type(), at, data)
}

// SendEvening posts the steps to the stack at baseURL, each created at
// the moment it is sent, and prints a line per event to out (nil: none).
func SendEvening(ctx context.Context, baseURL, secret, run string, steps []EveningStep, out io.Writer) ([]Sent, error) {
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
		r, err := post(ctx, baseURL, secret, d)
		if err != nil {
			return sent, fmt.Errorf("localstack: evening event %d (%s): %w", i+1, s.Type(), err)
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
