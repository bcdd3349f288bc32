package proof

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/internal/emulator"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
)

// soak reports whether the long variants run (make soak).
func soak() bool { return os.Getenv("PROOF_SOAK") != "" }

// TestStoreKilledMidBurst kills DynamoDB Local (on disk, -dbPath) while
// signed deliveries are in flight from several senders, starts it again on
// the same port and data, and lets the burst go on. Afterwards every
// delivery answered 2xx must be in the table, and every delivery not in the
// table must have been answered 5xx (so FastPix retries it). Then the 5xx
// ones are delivered again, as FastPix would, and all must end up stored
// exactly once.
//
// The webhook runs as in Lambda: the SDK's default retryer (3 attempts,
// bounded backoff, a retry quota), and ingest's StoreTimeout, set short here
// so that an outage costs seconds, not the default 10 s per delivery.
func TestStoreKilledMidBurst(t *testing.T) {
	deliveries, senders, kills := 600, 8, 1
	if soak() {
		deliveries, senders, kills = 6000, 32, 3
	}
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dbPath, logDir := t.TempDir(), t.TempDir()
	var procMu sync.Mutex
	var proc *emulator.Process
	start := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		p, err := emulator.StartDynamoDB(ctx, emulator.DynamoDBOptions{Port: port, DBPath: dbPath, LogDir: logDir})
		if err != nil {
			t.Errorf("start DynamoDB Local on port %d: %v", port, err)
			return
		}
		procMu.Lock()
		proc = p
		procMu.Unlock()
	}
	start()
	if proc == nil {
		t.FailNow()
	}
	t.Cleanup(func() {
		procMu.Lock()
		defer procMu.Unlock()
		proc.Stop()
	})
	r := newRig(t, testenv.DynamoDBAt(proc.Endpoint), time.Second)

	bodies := make([][]byte, deliveries)
	sigs := make([]string, deliveries)
	ids := make([]string, deliveries)
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for i := range bodies {
		ids[i] = fmt.Sprintf("sf-%05d", i)
		bodies[i] = liveEvent(ids[i], "video.live_stream.active", fmt.Sprintf("stream-%d", i%20), t0.Add(time.Duration(i)*time.Millisecond))
		sigs[i] = sign(t, proofSecret, bodies[i])
	}

	// answers[i] holds the statuses delivery i got, in order.
	answers := make([][]int, deliveries)
	var answersMu sync.Mutex
	deliver := func(i int) int {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := r.hook.Handle(ctx, post(bodies[i], sigs[i]))
		if err != nil {
			t.Errorf("delivery %d: Handle error: %v", i, err)
		}
		answersMu.Lock()
		answers[i] = append(answers[i], resp.StatusCode)
		answersMu.Unlock()
		return resp.StatusCode
	}

	// The burst is fed in kills+1 segments. Each kill happens once a quarter
	// of its segment is answered, while the senders are busy with the rest
	// (in flight, or against a dead store); the next segment is fed only
	// once the store is back, so every run has deliveries before, during
	// and after each outage.
	work := make(chan int)
	var answered atomic.Int64
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				deliver(i)
				answered.Add(1)
			}
		}()
	}
	segment := deliveries / (kills + 1)
	var downtime []time.Duration
	for k := 0; k <= kills; k++ {
		from, to := k*segment, (k+1)*segment
		if k == kills {
			to = deliveries
		}
		killed := make(chan struct{})
		if k < kills {
			go func() {
				defer close(killed)
				for answered.Load() < int64(from+segment/4) {
					time.Sleep(2 * time.Millisecond)
				}
				procMu.Lock()
				p := proc
				procMu.Unlock()
				down := time.Now()
				p.Kill()
				time.Sleep(300 * time.Millisecond) // deliveries keep arriving at a dead store
				start()
				downtime = append(downtime, time.Since(down))
			}()
		} else {
			close(killed)
		}
		for i := from; i < to; i++ {
			work <- i
		}
		<-killed
		if t.Failed() {
			break
		}
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// What the table holds now, against what each delivery was told.
	items := r.items(t)
	var ok2xx, got5xx, other, ackLost, lostNot5xx, landedDespite5xx int
	var retry []int
	for i, id := range ids {
		st := answers[i][0]
		_, stored := items[id]
		switch {
		case st >= 200 && st < 300:
			ok2xx++
			if !stored {
				ackLost++
				t.Errorf("%s answered %d but not in the table", id, st)
			}
		case st >= 500:
			got5xx++
			retry = append(retry, i)
			if stored {
				landedDespite5xx++
			}
		default:
			other++
			t.Errorf("%s answered %d: a valid delivery must get 2xx or, when the store is down, 5xx", id, st)
		}
		if !stored && st < 500 {
			lostNot5xx++
		}
	}

	// FastPix retries every 5xx: so does the test, until each is 2xx.
	var redelivered, dupOnRetry int
	for _, i := range retry {
		for attempt := 0; ; attempt++ {
			redelivered++
			st := deliver(i)
			if st == 200 {
				if _, was := items[ids[i]]; was {
					dupOnRetry++
				}
				break
			}
			if attempt == 20 {
				t.Errorf("%s still answered %d after %d redeliveries", ids[i], st, attempt+1)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	final := r.items(t)
	for _, id := range ids {
		if _, ok := final[id]; !ok {
			t.Errorf("%s not stored after redelivery", id)
		}
	}
	if len(final) != deliveries {
		t.Errorf("table holds %d items, want %d", len(final), deliveries)
	}
	noCredentials(t, "the log", r.logs.String())
	fmt.Printf("store failure: causes of the 5xx answers, from the log: %v\n", causes(r.logs.String()))
	fmt.Printf("store failure: %d deliveries by %d senders, %d kill(s) of DynamoDB Local (down %v); answered 2xx %d, 5xx %d, other %d\n",
		deliveries, senders, kills, downtime, ok2xx, got5xx, other)
	fmt.Printf("store failure: acknowledged-and-lost: %d; not stored and not answered 5xx: %d; answered 5xx but the write had landed: %d\n",
		ackLost, lostNot5xx, landedDespite5xx)
	fmt.Printf("store failure: redelivered the %d 5xx deliveries in %d attempts (%d found already stored: duplicates); table holds %d of %d events\n",
		len(retry), redelivered, dupOnRetry, len(final), deliveries)
}

// causes counts the 5xx log lines by the kind of store error behind them.
func causes(log string) map[string]int {
	kinds := []string{"retry quota exceeded", "context deadline exceeded", "connection refused", "connection reset", "EOF"}
	out := map[string]int{}
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"status":503`) {
			continue
		}
		kind := "other"
		for _, k := range kinds {
			if strings.Contains(line, k) {
				kind = k
				break
			}
		}
		out[kind]++
	}
	return out
}
