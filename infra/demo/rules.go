package demo

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
)

// rulesStep is one delivery of the rules' demo: its action, the pause
// before it, and what it shows.
type rulesStep struct {
	step, action string
	pause        time.Duration
	note         string
}

// rulesDemo is the steps of the alert rules' demo under settings s: the
// stream connects and goes live; it drops and is back within the grace
// (brief drops, nothing sent) as many times as make it unstable (one
// UNSTABLE alert); then it drops for good (the DISCONNECTED alert comes
// when the grace has passed, which the demo waits for) and comes back
// (LIVE again, with the downtime). Wait is how long the demo waits for the
// grace, before the last step.
func rulesDemo(s alertrules.Settings) (steps []rulesStep, wait time.Duration) {
	grace := alerts.FormatDuration(s.Grace)
	steps = []rulesStep{
		{"connected", "connected", 0, "the encoder connects again: a new session, nothing to alert"},
		{"active", "active", time.Second, "live: one LIVE alert, naming the simulcast target the state knows"},
	}
	if s.Grace > 0 {
		back := min(time.Second, s.Grace/2)
		drops := s.FlapThreshold
		if drops <= 0 || drops > 5 {
			drops = 2
		}
		for i := 1; i <= drops; i++ {
			note := fmt.Sprintf("back %s later, within the %s grace: a brief drop, nothing is sent", alerts.FormatDuration(back), grace)
			if i == s.FlapThreshold {
				note = fmt.Sprintf("back %s later: brief drop %d within %s, so one UNSTABLE alert", alerts.FormatDuration(back), i, alerts.FormatDuration(s.FlapWindow))
			}
			steps = append(steps,
				rulesStep{fmt.Sprintf("drop-%d", i), "disconnected", 2 * time.Second, "a drop: held for the " + grace + " grace, nothing sent yet"},
				rulesStep{fmt.Sprintf("back-%d", i), "active", back, note})
		}
	}
	wait = s.Grace + 3*time.Second
	steps = append(steps,
		rulesStep{"drop", "disconnected", 2 * time.Second, "a real drop: held for the " + grace + " grace"},
		rulesStep{"back", "active", wait, fmt.Sprintf("back after about %s: one LIVE again alert with the downtime", alerts.FormatDuration(wait))})
	if s.Grace == 0 {
		steps[len(steps)-2].note = "a drop: with DISCONNECT_GRACE_SECONDS=0 it is alerted at once"
	}
	return steps, wait
}

// SendRules sends rulesDemo(s) to the running stack's webhookURL, about
// streamID (StreamID when ""), each event created at the moment it is
// sent (so the grace runs on the clock, as it does for FastPix's events),
// numbering its lines from first. It says how long it waits and why. Every
// run's events are new (their ids come from the run's start).
func SendRules(ctx context.Context, webhookURL, secret string, s alertrules.Settings, streamID string, first int, out io.Writer) ([]Sent, error) {
	if out == nil {
		out = io.Discard
	}
	seed, err := readSeed()
	if err != nil {
		return nil, err
	}
	if streamID != "" {
		seed = seed.about(streamID)
	}
	steps, wait := rulesDemo(s)
	run := time.Now().UTC().Format(time.RFC3339Nano)
	Heading(out, 2, "The alert rules, on the clock",
		fmt.Sprintf("The same stream, its events created now, so that the grace runs on the clock: a drop is held %s "+
			"(DISCONNECT_GRACE_SECONDS) and alerted only if the stream is not back by then; %d brief drops within %s "+
			"make one UNSTABLE alert (FLAP_THRESHOLD, FLAP_WINDOW_MINUTES). Every event of this part is %s.",
			alerts.FormatDuration(s.Grace), s.FlapThreshold, alerts.FormatDuration(s.FlapWindow), ConstructedNote))
	var sent []Sent
	for i, st := range steps {
		if st.pause >= 3*time.Second {
			if s.Grace > 0 {
				fmt.Fprintf(out, "    waiting %s: not back within the %s grace, so DISCONNECTED comes %s after the drop\n",
					alerts.FormatDuration(wait), alerts.FormatDuration(s.Grace), alerts.FormatDuration(s.Grace))
			} else {
				fmt.Fprintf(out, "    waiting %s before the stream comes back (with no grace, DISCONNECTED came at once)\n", alerts.FormatDuration(wait))
			}
		}
		select {
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-time.After(st.pause):
		}
		d, err := seed.build(seed.ID+"/rules/"+run, st.step, "video.live_stream."+st.action, time.Now(), seed.live(st.action))
		if err != nil {
			return sent, err
		}
		d.Note = st.note
		got, err := Post(ctx, webhookURL, secret, d)
		if err != nil {
			return sent, fmt.Errorf("localstack: rules demo event %d (%s): %w", i+1, d.Type, err)
		}
		sent = append(sent, got)
		printSent(out, first+i, got)
	}
	return sent, nil
}
