package proof

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
)

// The kickoff burst: streams going live at the top of the hour.
const (
	burstStreams = 300 // each connected, then active, then its simulcast target broadcasting
	burstSenders = 32
	// burstPublishLatency is what each SNS Publish is made to take: about
	// SNS's typical p50 from Lambda, where goaws answers in a millisecond.
	burstPublishLatency = 70 * time.Millisecond
	burstWarmupStreams  = 20
)

// burstDelivery is one signed delivery of the burst.
type burstDelivery struct {
	id      string
	alerted bool // routed to a topic: active and simulcast broadcasting
	pair    e2ePair
}

// burstEvents builds the burst's deliveries, stream by stream in the order
// FastPix sends them (connected, active, the target broadcasting), each a
// millisecond after the last.
func burstEvents(b *testing.B, run string, streams int, secret string) []burstDelivery {
	b.Helper()
	base := time.Now().UTC()
	var out []burstDelivery
	add := func(id string, alerted bool, body []byte) {
		out = append(out, burstDelivery{id: id, alerted: alerted, pair: e2ePair{body: body, sig: []byte(sign(b, secret, body))}})
	}
	for i := range streams {
		stream := fmt.Sprintf("burst-%s-stream-%04d", run, i)
		at := base.Add(time.Duration(3*i) * time.Millisecond)
		for k, action := range []string{"connected", "active"} {
			id := fmt.Sprintf("burst-%s-%04d-%s", run, i, action)
			add(id, action == "active", liveEvent(id, "video.live_stream."+action, stream, at.Add(time.Duration(k)*time.Millisecond)))
		}
		id := fmt.Sprintf("burst-%s-%04d-broadcasting", run, i)
		add(id, true, fmt.Appendf(nil, `{"type":"video.live_stream.simulcast_target.broadcasting","request_id":null,"object":{"type":"live","id":%q},"id":%q,"workspace":{"name":"Proof","id":"ws-proof"},"data":{"simulcastId":"%s-target","livestreamId":%q,"rtmpUrl":"rtmps://live.example.invalid:443/app","streamKey":%q,"isEnabled":true},"createdAt":%q,"attempts":[],"accessor":null}`,
			stream, id, stream, stream, credentials[3], at.Add(2*time.Millisecond).Format(time.RFC3339Nano)))
	}
	return out
}

// burstAlerts records when each alert reached the stack's inbox: goaws hands
// a notification to its http subscribers before its Publish answers, so this
// is when SNS accepted the publish (within a goroutine's wake-up).
type burstAlerts struct {
	mu   sync.Mutex
	at   map[string][]time.Time // event id → arrival of each alert about it
	last time.Time
}

// watch timestamps every alert the inbox receives after the first skip,
// until ctx ends.
func (a *burstAlerts) watch(ctx context.Context, in *localstack.Inbox, skip int) {
	seen := skip
	for ctx.Err() == nil {
		got, _ := in.WaitFor(ctx, seen+1)
		now := time.Now()
		a.mu.Lock()
		for _, al := range got[min(seen, len(got)):] {
			var def struct{ EventID string }
			_ = json.Unmarshal([]byte(al.Default), &def)
			a.at[def.EventID] = append(a.at[def.EventID], now)
			a.last = now
		}
		a.mu.Unlock()
		seen = max(seen, len(got))
	}
}

func (a *burstAlerts) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, ts := range a.at {
		n += len(ts)
	}
	return n
}

// burstSend delivers ds with senders concurrent senders as fast as they go
// and returns when each delivery's 200 answer was read and how long each
// took.
func burstSend(b *testing.B, url string, ds []burstDelivery, senders int) (answered map[string]time.Time, took []time.Duration, start, end time.Time) {
	b.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders, MaxConnsPerHost: senders}}
	defer client.CloseIdleConnections()
	answered = map[string]time.Time{}
	var mu sync.Mutex
	work := make(chan burstDelivery)
	var wg sync.WaitGroup
	start = time.Now()
	for range senders {
		wg.Go(func() {
			for d := range work {
				t, err := deliver(client, url, d.pair)
				done := time.Now()
				if err != nil {
					b.Error(err)
					continue
				}
				mu.Lock()
				answered[d.id] = done
				took = append(took, t)
				mu.Unlock()
			}
		})
	}
	for _, d := range ds {
		work <- d
	}
	close(work)
	wg.Wait()
	return answered, took, start, time.Now()
}

// BenchmarkBurst measures alert delay under a kickoff burst through the
// local stack (localstack.Start: DynamoDB Local, goaws, the HTTP API, and the
// stream poller driving the notifier with the template's event source
// settings). Each iteration: 300 streams, each connected then active, and
// a simulcast target of each broadcasting: 900 signed deliveries, 600 of
// them alerted, sent by 32 senders as fast as they go, with every SNS
// request of the notifier held 70 ms (localstack.Config.PublishLatency).
//
// It reports the webhook's rate and latency, and for each alerted event the
// delay from its delivery's 200 to its alert's arrival in the stack's inbox
// (p50, p99, max), the time from the last delivery to the last alert, and
// checks exactly one alert per alerted event and none for the others.
// Nothing about time is asserted. Run with -benchtime 1x (make bench-burst).
func BenchmarkBurst(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	logs := &testenv.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	st, err := localstack.Start(ctx, localstack.Config{LogDir: b.TempDir(), Logger: logger, Secret: proofSecret, PublishLatency: burstPublishLatency})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Stop)
	url := st.URL + localstack.WebhookPath
	source, err := burstEventSource()
	if err != nil {
		b.Fatal(err)
	}

	alerts := &burstAlerts{at: map[string][]time.Time{}}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go alerts.watch(watchCtx, st.Inbox, 0)

	// Warm-up: the JVM, the connections, the poller's iterators.
	warm := burstEvents(b, fmt.Sprintf("warm%d", time.Now().UnixNano()), burstWarmupStreams, proofSecret)
	burstSend(b, url, warm, burstSenders)
	if err := waitAlerts(ctx, alerts, 2*burstWarmupStreams); err != nil {
		b.Fatalf("FINDING: warm-up: %v\n%s", err, burstMissing(warm, alerts, logs.String()))
	}
	time.Sleep(time.Second)

	for i := 0; b.Loop(); i++ {
		alerts.mu.Lock()
		alerts.at = map[string][]time.Time{}
		alerts.mu.Unlock()
		logStart := len(logs.String())

		ds := burstEvents(b, fmt.Sprintf("r%d-%d", i, time.Now().UnixNano()), burstStreams, proofSecret)
		nAlerted := 0
		for _, d := range ds {
			if d.alerted {
				nAlerted++
			}
		}
		answered, took, start, end := burstSend(b, url, ds, burstSenders)
		if err := waitAlerts(ctx, alerts, nAlerted); err != nil {
			b.Fatalf("FINDING: %v\n%s", err, burstMissing(ds, alerts, logs.String()[logStart:]))
		}
		// A repeated publish would come on a retry, a second or more later.
		time.Sleep(2 * time.Second)
		b.StopTimer()

		alerts.mu.Lock()
		var delays []time.Duration
		var lastDelivery, lastAlert time.Time
		extra, missing := 0, 0
		for _, d := range ds {
			at := answered[d.id]
			if at.After(lastDelivery) {
				lastDelivery = at
			}
			got := alerts.at[d.id]
			switch {
			case !d.alerted && len(got) > 0, d.alerted && len(got) > 1:
				extra += len(got) - btoi(d.alerted)
			case d.alerted && len(got) == 0:
				missing++
			}
			if d.alerted && len(got) > 0 {
				delays = append(delays, got[0].Sub(at))
				if got[0].After(lastAlert) {
					lastAlert = got[0]
				}
			}
		}
		alerts.mu.Unlock()
		if extra != 0 || missing != 0 || len(answered) != len(ds) {
			b.Errorf("FINDING: %d of %d deliveries answered 200 accepted; alerts: %d missing, %d extra (want exactly one per alerted event)", len(answered), len(ds), missing, extra)
		}

		batches, records := burstBatches(logs.String()[logStart:])
		dl, al := summarize(took), summarize(delays)
		maxDelay := slices.Max(delays)
		rate := float64(len(answered)) / end.Sub(start).Seconds()
		tail := lastAlert.Sub(lastDelivery)
		var sb strings.Builder
		fmt.Fprintf(&sb, "burst: %d streams, %d signed deliveries (%d alerted) from %d senders; SNS publish latency %v; template's event source BatchSize %d, MaximumBatchingWindowInSeconds %d, ParallelizationFactor %d\n",
			burstStreams, len(ds), nAlerted, burstSenders, burstPublishLatency, source.BatchSize, source.MaximumBatchingWindowInSeconds, source.ParallelizationFactor)
		fmt.Fprintf(&sb, "burst: webhook   %d accepted in %v: %.0f deliveries/s; latency p50 %v p99 %v\n",
			len(answered), end.Sub(start).Round(time.Millisecond), rate, dl.p50.Round(10*time.Microsecond), dl.p99.Round(10*time.Microsecond))
		fmt.Fprintf(&sb, "burst: alerts    %d of %d alerted events, %d extra; delay from the delivery's 200 to the alert p50 %v p99 %v max %v\n",
			len(delays), nAlerted, extra, al.p50.Round(time.Millisecond), al.p99.Round(time.Millisecond), maxDelay.Round(time.Millisecond))
		fmt.Fprintf(&sb, "burst: last delivery → last alert %v\n", tail.Round(time.Millisecond))
		fmt.Fprintf(&sb, "burst: notifier  %d batches for %d records (%.1f a batch, largest %d)\n",
			len(batches), records, float64(records)/float64(max(1, len(batches))), slices.Max(append(batches, 0)))
		b.Log("\n" + sb.String())

		b.ReportMetric(0, "ns/op")
		b.ReportMetric(rate, "deliveries/s")
		b.ReportMetric(ms(dl.p50), "p50-delivery-ms")
		b.ReportMetric(ms(dl.p99), "p99-delivery-ms")
		b.ReportMetric(ms(al.p50), "p50-alert-ms")
		b.ReportMetric(ms(al.p99), "p99-alert-ms")
		b.ReportMetric(ms(maxDelay), "max-alert-ms")
		b.ReportMetric(ms(tail), "last-alert-after-last-delivery-ms")
		b.ReportMetric(float64(extra+missing), "alerts-wrong")
		// The rest of the table BENCHMARKS.md shows (infra/cmd/benchtable
		// prints it from these).
		b.ReportMetric(float64(len(answered)), "accepted")
		b.ReportMetric(end.Sub(start).Seconds(), "send-s")
		b.ReportMetric(float64(len(delays)), "alerts")
		b.ReportMetric(float64(nAlerted), "alerted-events")
		b.ReportMetric(float64(extra), "alerts-extra")
		b.ReportMetric(float64(missing), "alerts-missing")
		b.ReportMetric(float64(len(batches)), "batches")
		b.ReportMetric(float64(records), "records")
		b.ReportMetric(float64(slices.Max(append(batches, 0))), "largest-batch")
		b.StartTimer()
	}
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// burstMissing describes the alerted events no alert came for, with the
// log lines that name them.
func burstMissing(ds []burstDelivery, a *burstAlerts, logs string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	for _, d := range ds {
		if !d.alerted || len(a.at[d.id]) > 0 {
			continue
		}
		fmt.Fprintf(&b, "no alert for %s\n", d.id)
		for line := range strings.SplitSeq(logs, "\n") {
			if strings.Contains(line, d.id) {
				fmt.Fprintf(&b, "  %s\n", line)
			}
		}
	}
	return b.String()
}

// waitAlerts waits until n alerts are counted.
func waitAlerts(ctx context.Context, a *burstAlerts, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for a.count() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d alerts arrived, waited for %d: %w", a.count(), n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// burstEventSource is the notifier's stream event source as the template
// declares it (the local poller follows it).
func burstEventSource() (samtemplate.StreamSource, error) {
	tp, err := samtemplate.LoadDefault()
	if err != nil {
		return samtemplate.StreamSource{}, err
	}
	return tp.StreamSource("NotifierFunction")
}

// burstBatches reads the notifier's "batch processed" log lines: the size
// of each batch, and the records in all.
func burstBatches(logs string) (sizes []int, records int) {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Msg     string
			Records int
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "batch processed" {
			sizes = append(sizes, l.Records)
			records += l.Records
		}
	}
	return sizes, records
}
