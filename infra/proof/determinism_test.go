package proof

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// scripted is one delivery of a scripted life: sent at offset after the
// life's start, about something that happened at occurred after it.
type scripted struct {
	offset, occurred time.Duration
	id, typ, stream  string
	target           string
	status           string
	// skewed: the sender's clock is years ahead (createdAt in 9999).
	skewed bool
}

// determinismGrace is the proofs' disconnect grace: short, so a real drop
// is alerted within the run, and far above the jitter of a loaded machine.
const determinismGrace = 2 * time.Second

// scriptLife is a random life of one stream, hostile shapes included:
// created, connected, live, brief drops (back within half a second), real
// drops (back after the grace, or never), simulcast targets (and a target
// event that names no target), recording updates (not status changes), an
// event from a clock years ahead, a delivery sent twice, a delivery held
// back and sent after later ones (FastPix retrying it), idle.
func scriptLife(rng *rand.Rand, stream string) []scripted {
	var out []scripted
	// Lives start over the first four seconds, not all at once.
	at := time.Duration(rng.IntN(4000)) * time.Millisecond
	add := func(gap time.Duration, typ, status string) *scripted {
		at += gap
		out = append(out, scripted{offset: at, occurred: at, id: fmt.Sprintf("%s-%02d", stream, len(out)),
			typ: typ, stream: stream, status: status})
		return &out[len(out)-1]
	}
	life := func(gap time.Duration, status string) *scripted { return add(gap, "video.live_stream."+status, status) }
	life(0, "created")
	life(100*time.Millisecond, "connected")
	life(100*time.Millisecond, "active")
	for range 2 + rng.IntN(5) {
		switch rng.IntN(8) {
		case 0, 1: // a brief drop
			life(time.Duration(200+rng.IntN(400))*time.Millisecond, "disconnected")
			life(time.Duration(200+rng.IntN(300))*time.Millisecond, "connected")
			life(50*time.Millisecond, "active")
		case 2: // a real drop, then back
			life(time.Duration(200+rng.IntN(400))*time.Millisecond, "disconnected")
			life(determinismGrace+time.Duration(1000+rng.IntN(500))*time.Millisecond, "active")
		case 3: // a simulcast target changes
			status := []string{"broadcasting", "errored", "idle"}[rng.IntN(3)]
			s := add(time.Duration(100+rng.IntN(200))*time.Millisecond, "video.live_stream.simulcast_target."+status, status)
			s.target = fmt.Sprintf("%s-t%d", stream, rng.IntN(2))
		case 4: // a target event naming no target
			add(time.Duration(100+rng.IntN(200))*time.Millisecond, "video.live_stream.simulcast_target.broadcasting", "broadcasting")
		case 5: // not a status change
			add(time.Duration(100+rng.IntN(200))*time.Millisecond, "video.live_stream.recording", "active")
		case 6: // a clock years ahead: ordered by when we received it,
			// which the next event's createdAt is well after (it happens a
			// second later): a closer one would be ordered by how fast the
			// webhook answered, a fact of the delivery, not of the rules.
			life(time.Duration(100+rng.IntN(200))*time.Millisecond, "active").skewed = true
			at += 2 * time.Second
		case 7: // nothing for a while
			at += time.Duration(300+rng.IntN(500)) * time.Millisecond
		}
	}
	if rng.IntN(2) == 0 {
		life(time.Duration(200+rng.IntN(300))*time.Millisecond, "disconnected")
	}
	life(determinismGrace+1500*time.Millisecond, "idle")
	// One delivery sent twice; one held back and sent after the next two.
	dup := out[1+rng.IntN(len(out)-1)]
	dup.offset = out[len(out)-1].offset + 50*time.Millisecond
	out = append(out, dup)
	if i := 2 + rng.IntN(len(out)-4); rng.IntN(2) == 0 {
		out[i].offset = out[i+2].offset + 20*time.Millisecond
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].offset < out[b].offset })
	return out
}

func (s scripted) body(start time.Time) []byte {
	created := start.Add(s.occurred).UTC().Format(time.RFC3339Nano)
	if s.skewed {
		created = "9999-12-31T23:59:59Z"
	}
	data := map[string]any{"streamId": s.stream, "status": s.status, "streamKey": "determinism-key-not-real"}
	if strings.Contains(s.typ, "simulcast") {
		data = map[string]any{"livestreamId": s.stream, "status": s.status, "isEnabled": true, "streamKey": "determinism-target-key"}
		if s.target != "" {
			data["simulcastId"] = s.target
		}
	}
	d, _ := json.Marshal(data)
	return fmt.Appendf(nil, `{"type":%q,"object":{"type":"live","id":%q},"id":%q,"workspace":{"name":"Proof","id":"ws-proof"},"data":%s,"createdAt":%q}`,
		s.typ, s.stream, s.id, d, created)
}

// outcome is what people and programs were told about each stream: its
// alerts and its change-feed messages, each list sorted (SNS standard
// topics do not keep order; subscribers order by occurredAt). late are the
// streams one of whose deliveries was answered more than maxLag after its
// scripted time: the machine was too busy to send the life as scripted
// (a reconnection sent late is rightly no brief drop), so the rules saw
// another life, and the stream is not compared.
type outcome struct {
	alerts, changes map[string][]string
	late            map[string]bool
	// redriven counts the batches redriven from the dead-letter queue.
	redriven int
}

// maxLag is how late a delivery may be answered and its life still be the
// scripted one: well under the gaps the script relies on (a brief drop's
// reconnection comes at least 1.5 s before its grace ends; nothing follows
// a skewed clock's event for 2 s).
const maxLag = 1200 * time.Millisecond

// postSigned delivers body to the stack's webhook as FastPix does, again
// on a 5xx, and returns its answer's status ("accepted", "duplicate").
func postSigned(t *testing.T, ctx context.Context, st *localstack.Stack, body []byte) string {
	t.Helper()
	sig, err := fastpix.Sign(st.Secret, body)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.URL+localstack.WebhookPath, bytes.NewReader(body))
		req.Header.Set("FastPix-Signature", sig)
		resp, err := client.Do(req)
		if err == nil {
			var ans struct{ Status string }
			text, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_ = json.Unmarshal(text, &ans)
			if resp.StatusCode == http.StatusOK {
				return ans.Status
			}
			if resp.StatusCode < 500 {
				t.Errorf("%.80s: %d %s", body, resp.StatusCode, text)
				return ""
			}
		}
		if attempt == 5 {
			t.Errorf("%.80s: not accepted: %v", body, err)
			return ""
		}
	}
}

// runLives starts a stack as cfg says (with the proofs' grace), sends
// every life (each stream's deliveries one after the other, as FastPix
// does, waiting for each answer; streams at once), waits until every
// stream has applied its log and sent what it decided, and says what was
// told.
func runLives(t *testing.T, cfg localstack.Config, lives map[string][]scripted) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	logs := &testenv.SyncBuffer{}
	cfg.LogDir = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.RetryDelay = 100 * time.Millisecond
	cfg.Rules = map[string]string{alertrules.EnvGraceSeconds: fmt.Sprint(int(determinismGrace / time.Second))}
	st, err := localstack.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	start := time.Now().Add(500 * time.Millisecond)
	var wg sync.WaitGroup
	stored := map[string]int{}
	out := outcome{alerts: map[string][]string{}, changes: map[string][]string{}, late: map[string]bool{}}
	var mu sync.Mutex
	var lags []time.Duration
	for stream, life := range lives {
		wg.Go(func() {
			for _, s := range life {
				time.Sleep(time.Until(start.Add(s.offset)))
				answer := postSigned(t, ctx, st, s.body(start))
				lag := time.Since(start.Add(s.offset))
				mu.Lock()
				if answer == "accepted" {
					stored[stream]++
				}
				if lag > maxLag {
					out.late[stream] = true
				}
				lags = append(lags, lag)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(lags)
	t.Logf("delivery lags: p50 %s p90 %s p99 %s max %s", lags[len(lags)/2], lags[len(lags)*9/10], lags[len(lags)*99/100], lags[len(lags)-1])
	out.redriven = settledStreams(t, ctx, st, stored)
	for _, a := range st.Inbox.Alerts() {
		s := a.Attributes["streamId"]
		out.alerts[s] = append(out.alerts[s], a.Topic+" "+timeless(t, a.Default))
	}
	for _, c := range st.Feed.Changes() {
		// Each run sends its lives at its own time: what is compared is
		// the time a held drop's grace ends after its event.
		if c.HeldUntil != "" {
			until, err1 := time.Parse(time.RFC3339Nano, c.HeldUntil)
			at, err2 := time.Parse(time.RFC3339Nano, c.OccurredAt)
			if err1 != nil || err2 != nil {
				t.Fatalf("change %+v: times %v, %v", c, err1, err2)
			}
			c.HeldUntil = "occurredAt+" + until.Sub(at).Round(time.Second).String()
		}
		c.OccurredAt = ""
		out.changes[c.StreamID] = append(out.changes[c.StreamID], fmt.Sprintf("%+v", c))
	}
	for _, m := range []map[string][]string{out.alerts, out.changes} {
		for _, v := range m {
			slices.Sort(v)
		}
	}
	if t.Failed() {
		t.Logf("stack log:\n%s", logs.String())
	}
	return out
}

// timeless is an alert's JSON without its times of day (runs start at
// different moments): what it says, whom about, and its durations.
func timeless(t *testing.T, text string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("alert %q: %v", text, err)
	}
	delete(m, "occurredAt")
	b, _ := json.Marshal(m)
	return string(b)
}

// settledStreams waits until every stream has its n events stored and its
// state applied through the newest of them, holds no disconnect and has
// nothing left to send, and the subscribers have been quiet for a second.
// Meanwhile it redrives, as an operator would, what the event source gave
// up on (a batch whose streams kept failing past its retries: with SNS
// failing every first attempt, a stream with many alerts to send makes one
// step per attempt), and returns how many batches that was.
func settledStreams(t *testing.T, ctx context.Context, st *localstack.Stack, stored map[string]int) int {
	t.Helper()
	var redriver *ops.Redriver
	redriven := 0
	if u := st.Queues[st.DeadLetterQueue]; u != "" {
		awsCfg := testenv.AWSConfig()
		redriver = &ops.Redriver{
			Queue:     &ops.QueryQueue{Endpoint: st.SNSEndpoint, URL: u},
			Streams:   dynamodbstreams.NewFromConfig(awsCfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(st.DynamoDBEndpoint) }),
			Events:    &eventstore.RangeReader{Client: testenv.DynamoDBAt(st.DynamoDBEndpoint), Table: st.EventsTable},
			Processor: st.Notifier, Resender: st.Notifier, Out: io.Discard,
		}
	}
	ddb := testenv.DynamoDBAt(st.DynamoDBEndpoint)
	log := &eventstore.Reader{Client: ddb, Table: st.EventsTable}
	unsettled := ""
	for {
		done := true
		for stream, n := range stored {
			out, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.StateTable), ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{streamstate.KeyStreamID: &types.AttributeValueMemberS{Value: stream}}})
			if err != nil {
				t.Fatal(err)
			}
			s := streamstate.StateFromItem(out.Item)
			logged, err := log.ReadLog(ctx, stream, "", "")
			if err != nil {
				t.Fatal(err)
			}
			newest := ""
			if len(logged) > 0 {
				newest = logged[len(logged)-1].OrderKey
			}
			if len(logged) < n || s.Applied < newest || strings.Contains(s.Pending, "effects") || s.Memory().Held != nil {
				done = false
				unsettled = fmt.Sprintf("%s: %d of %d events stored, applied through %q of %q, pending %q, held %+v", stream, len(logged), n, s.Applied, newest, s.Pending, s.Memory().Held)
				break
			}
		}
		if done {
			break
		}
		if redriver != nil {
			if sum, err := redriver.Redrive(ctx); err == nil {
				redriven += sum.Deleted
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the streams never settled: %s", unsettled)
		case <-time.After(250 * time.Millisecond):
		}
	}
	for last := -1; ; {
		n := len(st.Inbox.Alerts()) + len(st.Feed.Changes())
		if n == last {
			return redriven
		}
		last = n
		time.Sleep(time.Second)
	}
}

// What people are told does not depend on how the notifier's work is
// scheduled, nor on faults it recovers from: the same lives for 60
// streams (60 seeds: brief drops, flapping, real drops, recoveries,
// simulcast targets, hostile shapes, a delivery sent twice, one sent late)
// through one lane, through ten parallel lanes, and through ten lanes with
// SNS failing every publish's first attempt and every check delivered
// twice, give the same alerts and the same change feed, stream by stream:
// nothing lost, nothing twice.
func TestSameAlertsWhateverTheSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three local stacks")
	}
	lives := map[string][]scripted{}
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 2026))
		stream := fmt.Sprintf("det-%02d", seed)
		lives[stream] = scriptLife(rng, stream)
	}
	one := runLives(t, localstack.Config{Lanes: 1}, lives)
	for _, run := range []struct {
		name string
		cfg  localstack.Config
	}{
		{"ten lanes", localstack.Config{Lanes: 10}},
		{"ten lanes, SNS failing each first attempt, checks delivered twice", localstack.Config{Lanes: 10, FailFirstPublish: true, DeliverChecksTwice: true}},
	} {
		got := runLives(t, run.cfg, lives)
		compared, alerts, changes := 0, 0, 0
		for stream := range lives {
			if one.late[stream] || got.late[stream] {
				continue
			}
			compared++
			alerts += len(one.alerts[stream])
			changes += len(one.changes[stream])
			if !slices.Equal(got.alerts[stream], one.alerts[stream]) {
				t.Errorf("%s: %s: alerts only here\n  %s\nonly through one lane\n  %s", run.name, stream,
					strings.Join(minus(got.alerts[stream], one.alerts[stream]), "\n  "), strings.Join(minus(one.alerts[stream], got.alerts[stream]), "\n  "))
			}
			if !slices.Equal(got.changes[stream], one.changes[stream]) {
				t.Errorf("%s: %s: changes only here\n  %s\nonly through one lane\n  %s", run.name, stream,
					strings.Join(minus(got.changes[stream], one.changes[stream]), "\n  "), strings.Join(minus(one.changes[stream], got.changes[stream]), "\n  "))
			}
		}
		line := fmt.Sprintf("determinism: %s: %d of %d streams compared (the rest sent late by a busy machine), %d alerts and %d changes, the same as through one lane (%d batches redriven from the dead-letter queue)",
			run.name, compared, len(lives), alerts, changes, got.redriven)
		t.Log(line)
		fmt.Println(line)
		if compared < 50 || alerts == 0 || changes == 0 {
			t.Errorf("%s: only %d streams compared (%d alerts, %d changes): at least 50 seeds must be", run.name, compared, alerts, changes)
		}
	}
}

// minus is a without one of each element of b (multisets).
func minus(a, b []string) []string {
	left := slices.Clone(b)
	var out []string
	for _, x := range a {
		if i := slices.Index(left, x); i >= 0 {
			left = slices.Delete(left, i, i+1)
			continue
		}
		out = append(out, x)
	}
	return out
}
