package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// seedCreated is the video.live_stream.created payload of FastPix's
// original description, byte for byte (a copy of FastPix's sample payload
// seed-live_stream.created-1.json).
//
//go:embed seed/live_stream.created.json
var seedCreated []byte

// Delivery is one POST of the demo.
type Delivery struct {
	Type    string
	EventID string
	Body    []byte
	// Constructed: the event is not in FastPix's original description (only
	// "created" is); it was built for the demo in the same shape.
	Constructed bool
	// Duplicate: the same bytes as an earlier delivery, as FastPix's retry
	// sends them; stored once.
	Duplicate bool
	// Late: created before an event delivered earlier, so it must not move
	// the stream's state back nor alert.
	Late bool
	Note string
}

// StreamID is the stream of the demo: the original description's.
const StreamID = "a2ae2143-62a1-4eee-b888-4f1406148481"

// SimulcastID is the demo's simulcast target (constructed).
const SimulcastID = "5d7b3a52-demo-4c1e-9b1a-simulcast001"

// ConstructedNote says what every event of the demo but the original
// description's is: each part of the demo says it once, in its heading, and
// each constructed event carries it in its metadata.
const ConstructedNote = "constructed for the local demo; not in FastPix's original description"

// Parts is how many parts `make demo` has: the stream's life, the alert
// rules on the clock, who gets which alert.
const Parts = 3

// headingWidth is the width a part's heading is drawn and wrapped to.
const headingWidth = 100

// Heading starts part n of the demo: a rule with its title, then, wrapped,
// what the part is about to show and why (which says, once, what of it is
// constructed), so that the lines that follow need no note of their own.
func Heading(out io.Writer, n int, title, about string) {
	rule := fmt.Sprintf("── %d of %d · %s ", n, Parts, title)
	rule += strings.Repeat("─", max(3, headingWidth-utf8.RuneCountInString(rule)))
	fmt.Fprintf(out, "\n%s\n%s\n\n", rule, wrap(about, headingWidth))
}

// wrap breaks text into lines of at most width runes, at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		l := utf8.RuneCountInString(w)
		switch {
		case n == 0:
		case n+1+l > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += l
	}
	return b.String()
}

// demoSeed is the original description's created event, which every
// constructed event of the demo copies its envelope and stream from.
type demoSeed struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Object      json.RawMessage `json:"object"`
	Environment json.RawMessage `json:"environment"`
	Data        map[string]any  `json:"data"`
	CreatedAt   time.Time       `json:"createdAt"`
}

func readSeed() (demoSeed, error) {
	var seed demoSeed
	if err := json.Unmarshal(seedCreated, &seed); err != nil {
		return demoSeed{}, fmt.Errorf("localstack: read the seed event: %w", err)
	}
	streamID, _ := seed.Data["streamId"].(string)
	if streamID != StreamID {
		return demoSeed{}, fmt.Errorf("localstack: the seed event's stream is %q, want %q", streamID, StreamID)
	}
	return seed, nil
}

// build is a constructed event, in the seed's envelope, created at at; its
// id is derived from idSeed and step, so the same two give the same event.
func (seed demoSeed) build(idSeed, step, typ string, at time.Time, data map[string]any) (Delivery, error) {
	sum := sha256.Sum256([]byte(idSeed + "/" + step))
	h := hex.EncodeToString(sum[:16])
	id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	env := struct {
		Type        string          `json:"type"`
		RequestID   any             `json:"request_id"`
		Object      json.RawMessage `json:"object"`
		ID          string          `json:"id"`
		Environment json.RawMessage `json:"environment"`
		Data        map[string]any  `json:"data"`
		CreatedAt   string          `json:"createdAt"`
		Attempts    []any           `json:"attempts"`
	}{typ, nil, seed.Object, id, seed.Environment, data, at.UTC().Format(time.RFC3339Nano), []any{}}
	body, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return Delivery{}, fmt.Errorf("localstack: build demo event %s: %w", step, err)
	}
	return Delivery{Type: typ, EventID: id, Body: body, Constructed: true}, nil
}

// about is the seed moved to another stream: its object and data name
// streamID.
func (seed demoSeed) about(streamID string) demoSeed {
	obj, _ := json.Marshal(map[string]string{"type": "live", "id": streamID})
	seed.Object = obj
	data := make(map[string]any, len(seed.Data))
	for k, v := range seed.Data {
		data[k] = v
	}
	data["streamId"] = streamID
	seed.Data = data
	return seed
}

// live is the stream's data in status.
func (seed demoSeed) live(status string) map[string]any {
	d := make(map[string]any, len(seed.Data)+1)
	for k, v := range seed.Data {
		d[k] = v
	}
	d["status"] = status
	d["metadata"] = map[string]any{"demo": ConstructedNote}
	return d
}

// Deliveries is a realistic life of the original description's stream: created
// (the original payload), a simulcast target created, connected, the
// target starting, active, the target broadcasting, a retried delivery of
// "active", disconnected, an "active" created before the disconnect but
// delivered after it, and idle.
func Deliveries() ([]Delivery, error) {
	seed, err := readSeed()
	if err != nil {
		return nil, err
	}
	t0 := seed.CreatedAt

	// Ids are derived from the seed's so that every run sends the same
	// events (a second run shows every delivery as a duplicate).
	build := func(step, typ string, at time.Duration, data map[string]any) (Delivery, error) {
		return seed.build(seed.ID, step, typ, t0.Add(at), data)
	}
	live := seed.live
	target := func() map[string]any {
		return map[string]any{
			"simulcastId":  SimulcastID,
			"livestreamId": StreamID,
			"rtmpUrl":      "rtmps://live.example.com:443/app",
			// A made-up value standing where FastPix puts the target's
			// stream key: the receiver must redact it.
			"streamKey": "demo-simulcast-streamkey-not-a-real-one",
			"isEnabled": true,
			"metadata":  map[string]any{"demo": ConstructedNote},
		}
	}

	out := []Delivery{{
		Type: seed.Type, EventID: seed.ID, Body: seedCreated,
		Note: "FastPix's original description, byte for byte",
	}}
	steps := []struct {
		step, typ string
		at        time.Duration
		data      map[string]any
		late      bool
		note      string
	}{
		{"simulcast-created", "video.live_stream.simulcast.created", 20 * time.Second, target(), false, ""},
		{"connected", "video.live_stream.connected", 2 * time.Minute, live("connected"), false, ""},
		{"simulcast-starting", "video.live_stream.simulcast.starting", 2*time.Minute + time.Second, target(), false, ""},
		{"active", "video.live_stream.active", 2*time.Minute + 5*time.Second, live("active"), false, ""},
		{"simulcast-broadcasting", "video.live_stream.simulcast.broadcasting", 2*time.Minute + 12*time.Second, target(), false, ""},
		{"disconnected", "video.live_stream.disconnected", 47 * time.Minute, live("disconnected"), false, ""},
		{"late-active", "video.live_stream.active", 31 * time.Minute, live("active"), true,
			"created 16 minutes before the disconnect, delivered after it: must not alert"},
		{"idle", "video.live_stream.idle", 48 * time.Minute, live("idle"), false, ""},
	}
	for _, s := range steps {
		d, err := build(s.step, s.typ, s.at, s.data)
		if err != nil {
			return nil, err
		}
		d.Late = s.late
		if s.note != "" {
			d.Note = s.note
		}
		out = append(out, d)
		if s.step == "simulcast-broadcasting" {
			// FastPix retries a delivery it thinks failed: same id, same bytes.
			var active Delivery
			for _, prev := range out {
				if prev.Type == "video.live_stream.active" {
					active = prev
				}
			}
			dup := active
			dup.Duplicate = true
			dup.Note = "the same delivery again, as FastPix's retry sends it: stored once"
			out = append(out, dup)
		}
	}
	return out, nil
}

// Sent is what the system answered to one demo delivery.
type Sent struct {
	Delivery
	Status int
	Answer string
}

// Send posts the demo to webhookURL, signed with secret,
// one delivery after the other, and prints a line per delivery to out.
func Send(ctx context.Context, webhookURL, secret string, out io.Writer) ([]Sent, error) {
	deliveries, err := Deliveries()
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = io.Discard
	}
	Heading(out, 1, "A stream's life, as FastPix sends it",
		"The stream of FastPix's original description, from its creation to its end: each event stored once, "+
			"a retried delivery stored once, a late event (created before the disconnect, delivered after it) not alerted. "+
			"Event 1 is FastPix's original description, byte for byte; every other event of this part is "+ConstructedNote+".")
	var sent []Sent
	for i, d := range deliveries {
		s, err := Post(ctx, webhookURL, secret, d)
		if err != nil {
			return sent, fmt.Errorf("localstack: demo event %d (%s): %w", i+1, d.Type, err)
		}
		sent = append(sent, s)
		printSent(out, i+1, s)
	}
	return sent, nil
}

// demoClient posts the demo's deliveries.
var demoClient = &http.Client{Timeout: 15 * time.Second}

// Post sends one delivery, signed with secret, to webhookURL, as FastPix
// does, and says what the webhook answered.
func Post(ctx context.Context, webhookURL, secret string, d Delivery) (Sent, error) {
	sig, err := fastpix.Sign(secret, d.Body)
	if err != nil {
		return Sent{}, fmt.Errorf("sign: %w", err)
	}
	url := webhookURL
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		return Sent{}, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(fastpix.SignatureHeader, sig)
	resp, err := demoClient.Do(req)
	if err != nil {
		return Sent{}, fmt.Errorf("post to %s: %w", url, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return Sent{Delivery: d, Status: resp.StatusCode, Answer: strings.TrimSpace(string(body))}, nil
}

func printSent(out io.Writer, n int, s Sent) {
	fmt.Fprintf(out, "%2d  %-42s %d %s\n", n, s.Type, s.Status, s.Answer)
	if s.Note != "" {
		fmt.Fprintf(out, "      %s\n", s.Note)
	}
}
