package board_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/streamhook/fastpix-receiver/infra/board"
)

// bigFleet is streams streams of targets simulcast targets each, in the
// statuses of a busy evening.
func bigFleet(streams, targets int, at time.Time) []board.Stream {
	statuses := []string{"active", "active", "active", "idle", "disconnected", "connected"}
	out := make([]board.Stream, streams)
	for i := range out {
		ts := map[string]board.Target{}
		for j := range targets {
			st := "broadcasting"
			if (i+j)%4 == 0 {
				st = "created"
			}
			ts[fmt.Sprintf("target-%d-%d", i, j)] = board.Target{Status: st, Since: at.Format(time.RFC3339Nano)}
		}
		out[i] = board.Stream{StreamID: fmt.Sprintf("stream-%05d", i), WorkspaceID: fmt.Sprintf("ws-%d", i%7),
			Status: statuses[i%len(statuses)], Since: at.Format(time.RFC3339Nano), SimulcastTargets: ts}
	}
	return out
}

// BenchmarkBoardPage measures the page in Chromium with 2,000 streams × 5
// simulcast targets: first paint (navigation to the whole fleet on
// screen, snapshot fetch and parse included), the page's script time per
// change (the row rebuilt and swapped) and per redraw of the counts (once
// a frame at most), and a change's way from the board's memory to the
// page's DOM (Server-Sent Event, parse, render; one change at a time).
//
//	go test -run '^$' -bench BoardPage -benchtime 1x ./infra/board
func BenchmarkBoardPage(b *testing.B) {
	const streams, targets, updates, timed = 2000, 5, 500, 50
	ctx := browser(b, 1400, 900)
	var paint, perUpdate, perCounts []float64
	var e2e []time.Duration
	for range b.N {
		hub := board.NewHub(0, 0)
		state := board.NewState(hub, "")
		at := time.Now().UTC()
		state.Load(bigFleet(streams, targets, at), at)
		srv := httptest.NewServer(board.Handler(state, hub, true))
		if _, err := chromedp.Run(ctx, chromedp.Navigate(srv.URL)); err != nil {
			b.Fatal(err)
		}
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		if _, err := chromedp.Run(pctx, chromedp.Poll[bool](fmt.Sprintf(`document.querySelectorAll('#rows tr').length === %d && window.boardStats.firstPaintMs > 0`, streams))); err != nil {
			b.Fatal(err)
		}
		cancel()
		fp, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`window.boardStats.firstPaintMs`))
		if err != nil {
			b.Fatal(err)
		}
		paint = append(paint, fp)
		if err := hub.Wait(ctx, 1); err != nil {
			b.Fatal(err)
		}
		change := func(n int) board.Change {
			c := board.Change{StreamID: fmt.Sprintf("stream-%05d", (n*37)%streams), Status: "created", EventType: "video.live_stream.simulcast_target.created",
				OccurredAt: at.Add(time.Duration(n+1) * time.Millisecond).Format(time.RFC3339Nano)}
			c.SimulcastTargetID = fmt.Sprintf("target-%d-%d", (n*37)%streams, n%targets)
			if n%2 == 0 {
				c.Status, c.EventType = "broadcasting", "video.live_stream.simulcast_target.broadcasting"
			}
			return c
		}
		// A burst, as a kickoff sends: the page's own time per change.
		for n := range updates {
			if _, err := state.Apply(change(n)); err != nil {
				b.Fatal(err)
			}
		}
		pctx, cancel = context.WithTimeout(ctx, time.Minute)
		if _, err := chromedp.Run(pctx, chromedp.Poll[bool](fmt.Sprintf(`window.boardStats.updates >= %d`, updates))); err != nil {
			b.Fatal(err)
		}
		cancel()
		stats, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`window.boardStats`))
		if err != nil {
			b.Fatal(err)
		}
		perUpdate = append(perUpdate, stats["totalUpdateMs"]/stats["updates"])
		perCounts = append(perCounts, stats["totalCountsMs"]/stats["counts"])
		// One at a time: from the board's memory to the row on the page.
		for n := updates; n < updates+timed; n++ {
			c := change(n)
			start := time.Now()
			if _, err := state.Apply(c); err != nil {
				b.Fatal(err)
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := chromedp.Run(pctx, chromedp.Poll[bool](fmt.Sprintf(`%s?.querySelector('.chip[data-target=%s] .s')?.textContent === %s`,
				rowExpr(c.StreamID), js(c.SimulcastTargetID), js(c.Status)), chromedp.WithPollingInterval(time.Millisecond)))
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			e2e = append(e2e, time.Since(start))
		}
		closeServer(ctx, srv)
	}
	slices.Sort(e2e)
	b.ReportMetric(mean(paint), "ms-first-paint")
	b.ReportMetric(mean(perUpdate), "ms-script/update")
	b.ReportMetric(mean(perCounts), "ms-counts/frame")
	b.ReportMetric(float64(e2e[len(e2e)/2].Microseconds())/1000, "ms-change-to-DOM-p50")
	b.ReportMetric(float64(e2e[len(e2e)*99/100].Microseconds())/1000, "ms-change-to-DOM-p99")
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
