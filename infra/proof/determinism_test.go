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

	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
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
}

// determinismGrace is the proofs' disconnect grace: short, so a real drop
// is alerted within the run, and far above the jitter of a loaded machine.
const determinismGrace = 2 * time.Second

// scriptLife is a random life of one stream: created, connected, live,
// brief drops (back within half a second), real drops (back after the
// grace, or never), simulcast targets, a delivery sent twice, a delivery
// held back and sent after later ones (FastPix retrying it), idle.
func scriptLife(rng *rand.Rand, stream string) []scripted {
	var out []scripted
	at := time.Duration(0)
	add := func(gap time.Duration, status string) {
		at += gap
		out = append(out, scripted{offset: at, occurred: at, id: fmt.Sprintf("%s-%02d", stream, len(out)),
			typ: "video.live_stream." + status, stream: stream, status: status})
	}
	add(0, "created")
	add(100*time.Millisecond, "connected")
	add(100*time.Millisecond, "active")
	for range 2 + rng.IntN(4) {
		switch rng.IntN(5) {
		case 0, 1: // a brief drop
			add(time.Duration(200+rng.IntN(400))*time.Millisecond, "disconnected")
			add(time.Duration(200+rng.IntN(300))*time.Millisecond, "connected")
			add(50*time.Millisecond, "active")
		case 2: // a real drop, then back
			add(time.Duration(200+rng.IntN(400))*time.Millisecond, "disconnected")
			add(determinismGrace+time.Duration(1000+rng.IntN(500))*time.Millisecond, "active")
		case 3: // a simulcast target changes
			at += time.Duration(100+rng.IntN(200)) * time.Millisecond
			target := fmt.Sprintf("%s-t%d", stream, rng.IntN(2))
			status := []string{"broadcasting", "errored", "idle"}[rng.IntN(3)]
			out = append(out, scripted{offset: at, occurred: at, id: fmt.Sprintf("%s-%02d", stream, len(out)),
				typ: "video.live_stream.simulcast_target." + status, stream: stream, target: target, status: status})
		case 4: // nothing for a while
			at += time.Duration(300+rng.IntN(500)) * time.Millisecond
		}
	}
	if rng.IntN(2) == 0 {
		add(time.Duration(200+rng.IntN(300))*time.Millisecond, "disconnected")
	}
	add(determinismGrace+1500*time.Millisecond, "idle")
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
	data := map[string]any{"streamId": s.stream, "status": s.status, "streamKey": "determinism-key-not-real"}
	if s.target != "" {
		data = map[string]any{"simulcastId": s.target, "livestreamId": s.stream, "status": s.status, "isEnabled": true}
	}
	d, _ := json.Marshal(data)
	return fmt.Appendf(nil, `{"type":%q,"object":{"type":"live","id":%q},"id":%q,"workspace":{"name":"Proof","id":"ws-proof"},"data":%s,"createdAt":%q}`,
		s.typ, s.stream, s.id, d, created)
}

// outcome is what people and programs were told about each stream: its
// alerts (as texted) and its change-feed messages, each list sorted (SNS
// standard topics do not keep order; subscribers order by occurredAt).
type outcome struct {
	alerts, changes map[string][]string
}

// runLives starts a stack with the given lanes, sends every life (each
// stream's deliveries one after the other, as FastPix does, waiting for
// each answer; streams at once), waits until every stream has applied its
// log and sent what it decided, and says what was told.
func runLives(t *testing.T, lanes int, lives map[string][]scripted) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	logs := &testenv.SyncBuffer{}
	st, err := localstack.Start(ctx, localstack.Config{
		LogDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		RetryDelay: 100 * time.Millisecond, Lanes: lanes,
		Rules: map[string]string{alertrules.EnvGraceSeconds: fmt.Sprint(int(determinismGrace / time.Second))},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	start := time.Now().Add(500 * time.Millisecond)
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for _, life := range lives {
		wg.Go(func() {
			for _, s := range life {
				time.Sleep(time.Until(start.Add(s.offset)))
				body := s.body(start)
				sig, err := fastpix.Sign(st.Secret, body)
				if err != nil {
					t.Error(err)
					return
				}
				for attempt := 0; ; attempt++ {
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.URL+localstack.WebhookPath, bytes.NewReader(body))
					req.Header.Set("FastPix-Signature", sig)
					resp, err := client.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							break
						}
					}
					if attempt == 5 {
						t.Errorf("%s: not accepted: %v", s.id, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	settled(t, ctx, st, lives)
	out := outcome{alerts: map[string][]string{}, changes: map[string][]string{}}
	for _, a := range st.Inbox.Alerts() {
		if a.TopicARN == st.ChangesTopic {
			continue
		}
		s := a.Attributes["streamId"]
		out.alerts[s] = append(out.alerts[s], a.Topic+" "+timeless(t, a.Default))
	}
	for _, c := range st.Feed.Changes() {
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

// timeless is an alert's JSON without its times of day (the two runs start
// at different moments): what it says, whom about, and its durations.
func timeless(t *testing.T, text string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("alert %q: %v", text, err)
	}
	delete(m, "occurredAt")
	b, _ := json.Marshal(m)
	return string(b)
}

// settled waits until every stream's state has applied the last event of
// its log, holds no disconnect and has nothing left to send, and the
// inbox has been quiet for a moment after.
func settled(t *testing.T, ctx context.Context, st *localstack.Stack, lives map[string][]scripted) {
	t.Helper()
	ddb := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(st.DynamoDBEndpoint),
		Credentials: aws.AnonymousCredentials{}})
	want := map[string]int{}
	for stream, life := range lives {
		ids := map[string]bool{}
		for _, s := range life {
			ids[s.id] = true
		}
		want[stream] = len(ids)
	}
	for {
		done := true
		for stream, n := range want {
			out, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.StateTable), ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{streamstate.KeyStreamID: &types.AttributeValueMemberS{Value: stream}}})
			if err != nil {
				t.Fatal(err)
			}
			s := streamstate.StateFromItem(out.Item)
			if len(s.Recent) < n || strings.Contains(s.Pending, "effects") || s.Memory().Held != nil {
				done = false
				break
			}
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the streams never settled")
		case <-time.After(250 * time.Millisecond):
		}
	}
	// What was sent reaches the subscribers a moment later.
	for last := -1; ; {
		n := len(st.Inbox.Alerts()) + len(st.Feed.Changes())
		if n == last {
			return
		}
		last = n
		time.Sleep(time.Second)
	}
}

// What people are told does not depend on how the notifier's work is
// scheduled: the same lives for dozens of streams (brief drops, flapping,
// real drops, recoveries, simulcast targets, a delivery sent twice, one sent
// late), through ten parallel lanes and through one, give the same alerts
// and the same change feed, stream by stream. 50 seeds, 2 streams each.
func TestSameAlertsWhateverTheLanes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two local stacks")
	}
	lives := map[string][]scripted{}
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 2026))
		for i := range 2 {
			stream := fmt.Sprintf("det-%02d-%d", seed, i)
			lives[stream] = scriptLife(rng, stream)
		}
	}
	ten := runLives(t, 10, lives)
	one := runLives(t, 1, lives)
	alerts, changes := 0, 0
	for stream := range lives {
		if !slices.Equal(ten.alerts[stream], one.alerts[stream]) {
			t.Errorf("%s: alerts through ten lanes\n  %s\nthrough one\n  %s", stream,
				strings.Join(ten.alerts[stream], "\n  "), strings.Join(one.alerts[stream], "\n  "))
		}
		if !slices.Equal(ten.changes[stream], one.changes[stream]) {
			t.Errorf("%s: changes through ten lanes\n  %s\nthrough one\n  %s", stream,
				strings.Join(ten.changes[stream], "\n  "), strings.Join(one.changes[stream], "\n  "))
		}
		alerts += len(one.alerts[stream])
		changes += len(one.changes[stream])
	}
	if alerts == 0 || changes == 0 {
		t.Fatalf("nothing was told: %d alerts, %d changes", alerts, changes)
	}
	t.Logf("determinism: %d streams, %d alerts and %d changes, the same through ten lanes and one", len(lives), alerts, changes)
}
