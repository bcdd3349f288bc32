package proof

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// stormPlanStats describes a delivery plan.
type stormPlanStats struct {
	deliveries, distinct int
	burst, spread        int         // events retried in a burst / redelivered later
	histogram            map[int]int // deliveries per event → events
	reordered            int         // events first sent after a newer event of their stream or target
	shifted              int         // events whose first delivery was moved later
}

// stormPlan orders the deliveries of evs: first deliveries by createdAt,
// except shiftFrac of the events, whose first delivery is moved 40–150
// places later (well beyond what the concurrent senders reorder anyway).
// Half of the events are retried in a burst, 2–5 deliveries in all, right
// after their first; the other half take the rest of the total, spread as
// late retries over the rest of the run.
//
// The issue asks for 1,000 deliveries of 200 events with half of the
// events delivered 2–5 times; with the other half delivered once that is at
// most 600, so the other half is the one redelivered more.
func stormPlan(rng *rand.Rand, evs []*stormEvent, total int, shiftFrac float64) ([][]byte, stormPlanStats) {
	st := stormPlanStats{deliveries: total, distinct: len(evs), histogram: map[int]int{}}
	sorted := append([]*stormEvent(nil), evs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[j].newerThan(sorted[i]) })
	firstPos := map[*stormEvent]float64{}
	for i, e := range sorted {
		firstPos[e] = float64(i)
	}
	perm := rng.Perm(len(sorted))
	st.shifted = int(float64(len(sorted)) * shiftFrac)
	for _, i := range perm[:st.shifted] {
		firstPos[sorted[i]] += 40 + float64(rng.Intn(111)) + 0.5
	}
	type send struct {
		key  float64
		body []byte
	}
	var sends []send
	counts := make([]int, len(sorted))
	perm = rng.Perm(len(sorted))
	burst, spread := perm[:len(perm)/2], perm[len(perm)/2:]
	st.burst, st.spread = len(burst), len(spread)
	left := total
	for _, i := range burst {
		counts[i] = 2 + rng.Intn(4)
		left -= counts[i]
	}
	for n, i := range spread {
		counts[i] = left / (len(spread) - n)
		left -= counts[i]
	}
	for i, e := range sorted {
		st.histogram[counts[i]]++
		p := firstPos[e]
		sends = append(sends, send{p, e.body})
		isBurst := slices.Contains(burst, i)
		for range counts[i] - 1 {
			if isBurst {
				sends = append(sends, send{p + rng.Float64()*3, e.body})
			} else {
				sends = append(sends, send{p + 5 + rng.Float64()*300, e.body})
			}
		}
	}
	sort.SliceStable(sends, func(i, j int) bool { return sends[i].key < sends[j].key })
	bodies := make([][]byte, len(sends))
	for i, s := range sends {
		bodies[i] = s.body
	}
	// Reordering as sent (first deliveries only), per stream or target.
	firsts := append([]*stormEvent(nil), sorted...)
	sort.SliceStable(firsts, func(i, j int) bool { return firstPos[firsts[i]] < firstPos[firsts[j]] })
	newest := map[string]*stormEvent{}
	for _, e := range firsts {
		if cur := newest[e.stateKey()]; cur != nil && cur.newerThan(e) {
			st.reordered++
			continue
		}
		newest[e.stateKey()] = e
	}
	return bodies, st
}

// TestStorm sends 1,000 signed deliveries of 200 events of 20 streams (with
// simulcast targets) from 32 concurrent senders through the webhook handler
// into DynamoDB Local, then drains the events table's stream through the
// notifier (real DynamoDB Local state table, real goaws, HTTP subscribers),
// and checks the outcome against a model computed from the generated events
// and the order of the stream's records: exactly one stored item per event,
// one alert per notable event that is not stale, every stream's state at
// its newest event, and the number of requests each AWS client sent.
func TestStorm(t *testing.T) {
	const (
		seed       = 20260301
		streams    = 20
		perStream  = 10
		deliveries = 1000
		senders    = 32
		batchSize  = 100 // the event source mapping's default
	)
	rng := rand.New(rand.NewSource(seed))
	evs := stormGenerate(rng, streams, perStream)
	nPlain := len(evs)
	hostile := stormHostile(rng, evs)
	evs = append(evs, hostile.extra...)
	byID := map[string]*stormEvent{}
	for _, e := range evs {
		byID[e.id] = e
	}
	bodies, plan := stormPlan(rng, evs, deliveries, 0.10)
	if len(bodies) != deliveries || nPlain != streams*perStream {
		t.Fatalf("plan: %d deliveries of %d events", len(bodies), len(byID))
	}
	// The stream with thousands of targets: each event delivered once, at
	// random places among the others, so its records share batches with
	// every other stream's.
	for _, e := range hostile.crowd {
		byID[e.id] = e
		i := rng.Intn(len(bodies) + 1)
		bodies = append(bodies[:i], append([][]byte{e.body}, bodies[i:]...)...)
	}
	evs = append(evs, hostile.crowd...)
	total := len(bodies)

	snsClient := testenv.SNS(t)
	topics := map[string]string{}
	for _, key := range []string{stormTopicLive, stormTopicDown, stormTopicSimulcast} {
		topics[key] = testenv.CreateTopic(t, snsClient, "Storm-"+key)
	}
	r := newStormRig(t, testenv.SNSEndpoint(t), topics, nil)

	// The burst.
	answers := r.stormSend(t, bodies, senders)
	wantAnswers := map[string]int{"200 accepted": len(byID), "200 duplicate": total - len(byID)}
	if !maps.Equal(answers, wantAnswers) {
		t.Errorf("webhook answers %v, want %v", answers, wantAnswers)
	}
	items := r.scan(t, r.eventsTable)
	stored := map[string]bool{}
	for _, it := range items {
		rec, err := eventstore.RecordFromItem(it)
		if err != nil {
			t.Fatalf("stored item unreadable: %v", err)
		}
		if byID[rec.EventID] == nil || stored[rec.EventID] {
			t.Errorf("unexpected or repeated item %s", rec.EventID)
		}
		stored[rec.EventID] = true
	}
	if len(items) != len(byID) {
		t.Errorf("%d items stored, want %d", len(items), len(byID))
	}

	// The notifier, over everything the stream holds.
	recs := r.readInserts(t, len(byID))
	recs = append(recs, r.reader.Poll(t)...) // nothing more may come
	order := r.handleAll(t, recs, batchSize)
	if len(order) != len(byID) || len(recs) != len(byID) {
		t.Errorf("the stream holds %d records, %d of them INSERTs; want %d INSERTs and nothing else", len(recs), len(order), len(byID))
	}
	seen := map[string]bool{}
	for _, id := range order {
		if byID[id] == nil || seen[id] {
			t.Fatalf("stream record of unknown or repeated event %s", id)
		}
		seen[id] = true
	}
	skewed := stormEffective(t, byID, items)
	x := stormModel(byID, order)
	got := r.received(t)
	stormCheckPublished(t, got, x.published)
	suppressed := stormLogged(t, r.notifierLogs.String(), "stale alert suppressed")
	if a, b := strings.Join(stormSorted(suppressed), ","), strings.Join(stormSorted(x.suppressed), ","); a != b {
		t.Errorf("suppressed alerts logged %v, want %v", suppressed, x.suppressed)
	}
	untracked := stormLogged(t, r.notifierLogs.String(), "simulcast target not tracked; no alert")
	if a, b := strings.Join(stormSorted(untracked), ","), strings.Join(stormSorted(x.untracked), ","); a != b {
		t.Errorf("untracked logged %d, want %d", len(untracked), len(x.untracked))
	}
	skewLogged := stormLogged(t, r.notifierLogs.String(), "createdAt ahead of the receive time; ordered by the receive time")
	if a, b := strings.Join(stormSorted(skewLogged), ","), strings.Join(stormSorted(skewed), ","); a != b || len(skewed) != len(hostile.skewed) {
		t.Errorf("skew logged for %v, the table says %v, generated %d", skewLogged, skewed, len(hostile.skewed))
	}
	nStreams := r.checkStates(t, evs, x)

	// Requests to AWS, retries included.
	put, upd, pub := r.webhookCount.counts(), r.stateCount.counts(), r.snsCount.counts()
	for _, c := range []struct {
		client string
		got    map[string]int
		want   map[string]int
	}{
		{"webhook DynamoDB", put, map[string]int{"PutItem": total}},
		{"notifier DynamoDB", upd, x.stateRequests()},
		{"notifier SNS", pub, map[string]int{"Publish": x.publishes()}},
	} {
		if !maps.Equal(c.got, c.want) {
			t.Errorf("FINDING: %s sent %v, want %v", c.client, c.got, c.want)
		}
	}

	nPub := 0
	for _, ids := range got {
		nPub += len(ids)
	}
	notable := 0
	for _, e := range evs {
		if e.notable {
			notable++
		}
	}
	lines := []string{
		fmt.Sprintf("storm: seed=%d streams=%d deliveries=%d distinct=%d senders=%d deliveries-per-event=%v (burst-retried=%d late-retried=%d) shifted=%d reordered-as-sent=%d",
			seed, nStreams, total, len(byID), senders, plan.histogram, plan.burst, plan.spread, plan.shifted, plan.reordered),
		fmt.Sprintf("storm: hostile non-status=%d skewed-clocks=%d (ordered by receive time %d) targetless=%d crowd-stream targets=%d deletions=%d tracked=%d (bound %d) untracked=%d batches-given-up=0",
			hostile.nInfo, len(hostile.skewed), len(skewed), hostile.nNoTarget, hostile.nTargets, hostile.nDeleted, len(x.tracked[hostile.crowdStream]), stormMaxTargets, len(x.untracked)),
		fmt.Sprintf("storm: answers=%v stored=%d stream-records=%d shards=%d", answers, len(items), len(recs), r.reader.Shards()),
		fmt.Sprintf("storm: notable=%d published=%d (expected %d) suppressed=%d (expected %d) stale-not-notable=%d states-checked=%d",
			notable, nPub, x.publishes(), len(suppressed), len(x.suppressed), x.staleOther, nStreams),
		fmt.Sprintf("storm: requests PutItem=%d (expected %d: one per delivery) UpdateItem=%d (expected %d = %d events - %d targetless + %d first-target + %d beyond the bound, tried twice) Publish=%d (expected %d) all=%v %v %v",
			put["PutItem"], total, upd["UpdateItem"], x.updates, len(order), hostile.nNoTarget, x.firstTargets, x.beyondBound, pub["Publish"], x.publishes(), put, upd, pub),
	}
	for _, l := range lines {
		t.Log(l)
		fmt.Println(l)
	}

	leakCheck(t, "storm", r, stormSecretsOf(t, bodies))
}

// stormLogged returns the event ids of the notifier's log lines with
// message msg.
func stormLogged(t *testing.T, logs, msg string) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l struct{ Msg, EventID string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if l.Msg == msg {
			ids = append(ids, l.EventID)
		}
	}
	return ids
}

// stormHostileEvents are what the storm adds to ordinary lifecycles.
type stormHostileEvents struct {
	extra                                []*stormEvent // delivered as the others are (retried, reordered)
	crowd                                []*stormEvent // the crowded stream's, each delivered once
	crowdStream                          string
	skewed                               []string
	nInfo, nNoTarget, nTargets, nDeleted int
}

// stormHostile adds, to streams generated by stormGenerate: two events per
// stream that are not status transitions (recording, updated, at random
// times of its life, their payload's status tempting); a sender's clock far
// ahead on one transition in four streams (a createdAt in year 9999, or an
// hour ahead of now); simulcast broadcasts that name no target; and one
// stream with 2,000 simulcast targets, 250 of them deleted again, far more
// than the state tracks.
func stormHostile(rng *rand.Rand, evs []*stormEvent) stormHostileEvents {
	var h stormHostileEvents
	byStream := map[string][]*stormEvent{}
	var streams []string
	for _, e := range evs {
		if byStream[e.stream] == nil {
			streams = append(streams, e.stream)
		}
		byStream[e.stream] = append(byStream[e.stream], e)
	}
	creds := stormCreds{key: stormCredential(rng, "skStorm"), srt: stormCredential(rng, "srtStorm"), pb: stormCredential(rng, "pbStorm"), simResp: stormCredential(rng, "simRespStorm")}
	add := func(e *stormEvent, to *[]*stormEvent) {
		e.id = stormUUID(rng)
		e.topicKey, e.notable = stormRouteTypes[e.typ]
		if e.target == "" {
			e.secrets = []string{creds.key, creds.srt, creds.pb, creds.simResp}
		}
		e.body = stormBody(e, creds)
		*to = append(*to, e)
	}
	for i, stream := range streams {
		life := byStream[stream]
		first, last := life[0].at, life[0].at
		for _, e := range life {
			if e.at.Before(first) {
				first = e.at
			}
			if e.at.After(last) {
				last = e.at
			}
		}
		for _, action := range []string{"recording", "updated"} {
			at := first.Add(time.Duration(rng.Int63n(int64(last.Sub(first)) + 1)))
			add(&stormEvent{typ: "video.live_stream." + action, stream: stream, at: at, status: "active", info: true}, &h.extra)
			h.nInfo++
		}
		if i%4 == 0 {
			// One of its transitions sent by a clock far ahead.
			var ts []*stormEvent
			for _, e := range life {
				if e.target == "" {
					ts = append(ts, e)
				}
			}
			e := ts[rng.Intn(len(ts))]
			e.createdAt = "9999-12-31T23:59:59Z"
			if rng.Intn(2) == 0 {
				e.createdAt = time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
			}
			e.body = stormBody(e, creds)
			e.secrets = []string{creds.key, creds.srt, creds.pb, creds.simResp}
			h.skewed = append(h.skewed, e.id)
		}
		if i%7 == 0 {
			add(&stormEvent{typ: "video.live_stream.simulcast_target.broadcasting", stream: stream, at: last, status: "broadcasting", noTarget: true}, &h.extra)
			h.nNoTarget++
		}
	}
	// The crowded stream: created and active, then thousands of targets.
	h.crowdStream = stormUUID(rng)
	base := time.Date(2024, 4, 2, 13, 0, 0, 0, time.UTC)
	add(&stormEvent{typ: "video.live_stream.created", stream: h.crowdStream, at: base, status: "idle"}, &h.crowd)
	add(&stormEvent{typ: "video.live_stream.active", stream: h.crowdStream, at: base.Add(time.Second), status: "active"}, &h.crowd)
	const targets, deleted = 2000, 250
	h.nTargets, h.nDeleted = targets, deleted
	for k := range targets {
		target := stormUUID(rng)
		at := base.Add(2*time.Second + time.Duration(rng.Int63n(int64(10*time.Minute))))
		add(&stormEvent{typ: "video.live_stream.simulcast_target.broadcasting", stream: h.crowdStream, target: target, at: at, status: "broadcasting",
			secrets: []string{stormCredential(rng, "simStorm")}}, &h.crowd)
		if k < deleted {
			add(&stormEvent{typ: "video.live_stream.simulcast_target.deleted", stream: h.crowdStream, target: target, at: at.Add(time.Minute), status: "deleted",
				secrets: []string{stormCredential(rng, "simStorm")}}, &h.crowd)
		}
	}
	return h
}

func stormSorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}
