package board_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/chromedp/chromedp"

	"github.com/streamhook/fastpix-receiver/infra/board"
	"github.com/streamhook/fastpix-receiver/infra/demo"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/internal/repo"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
)

// EnvScreenshot names a file the browser proof writes its screenshot of
// the board to (the README's docs/board.png): BOARD_SCREENSHOT=docs/board.png,
// relative to the repository.
const EnvScreenshot = "BOARD_SCREENSHOT"

// chromium finds a Chromium (Debian's package: apt-get install chromium).
func chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on this machine (apt-get install chromium, or set CHROME_PATH): the board's browser proof is skipped")
	return ""
}

// browser starts a headless Chromium, for the life of the test.
func browser(t testing.TB, width, height int) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// rowExpr is a JavaScript expression of the row of stream id (or undefined).
func rowExpr(id string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#rows tr')].find((r) => r.dataset.id === %s)`, js(id))
}

// waitPage polls the page until the JavaScript predicate holds; it returns
// how long that took.
func waitPage(t *testing.T, ctx context.Context, what, predicate string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#conn').textContent + ' | ' + document.querySelector('#rows').innerText.slice(0, 2000)`))
		t.Fatalf("%s: not on the page within %s (%v); the page shows: %s", what, timeout, err, state)
	}
	return time.Since(start)
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// sender posts signed FastPix events to the local stack's webhook.
type sender struct {
	st  *localstack.Stack
	seq atomic.Int64
}

func (s *sender) post(t *testing.T, typ string, object map[string]any, workspace string, data map[string]any) {
	t.Helper()
	n := s.seq.Add(1)
	body, err := json.Marshal(map[string]any{
		"type": typ, "id": fmt.Sprintf("board-proof-%d-%d", time.Now().UnixNano(), n), "object": object,
		"environment": map[string]any{"id": workspace, "name": "Proof"},
		"data":        data, "createdAt": time.Now().UTC().Format(time.RFC3339Nano), "attempts": []any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := demo.Post(context.Background(), s.st.URL+localstack.WebhookPath, s.st.Secret, demo.Delivery{Type: typ, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != http.StatusOK {
		t.Fatalf("post %s: %d %s", typ, got.Status, got.Answer)
	}
}

// stream posts a status event of a live stream ("created" carries idle).
func (s *sender) stream(t *testing.T, id, workspace, event, status string) {
	s.post(t, "video.live_stream."+event, map[string]any{"type": "live", "id": id}, workspace,
		map[string]any{"streamId": id, "status": status, "streamKey": "proof-key-not-a-real-one"})
}

// target posts a simulcast target's event.
func (s *sender) target(t *testing.T, streamID, targetID, workspace, status string) {
	s.post(t, "video.live_stream.simulcast_target."+status, map[string]any{"type": "live", "id": streamID}, workspace,
		map[string]any{"livestreamId": streamID, "simulcastId": targetID, "streamKey": "proof-key-not-a-real-one", "isEnabled": true})
}

// listed waits until the query API lists n streams (the notifier has
// caught up with what was posted).
func listed(t *testing.T, st *localstack.Stack, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var page struct{ Streams []json.RawMessage }
		resp, err := http.Get(st.URL + "/streams?limit=100&status=" + url.QueryEscape(strings.Join(board.BoardStatuses(), ",")))
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if len(page.Streams) >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fleet lists %d streams, want %d", len(page.Streams), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runningBoard is one run of the board against the stack.
type runningBoard struct {
	url    string
	queue  func() string
	stop   context.CancelFunc
	done   chan error
	follow *board.Follower
}

func startBoard(t *testing.T, st *localstack.Stack, addr string, log *slog.Logger) *runningBoard {
	t.Helper()
	f := &board.Follower{SNS: testenv.SNSAt(st.SNSEndpoint), Queues: &board.QueryQueues{Endpoint: st.SNSEndpoint}, TopicARN: st.ChangesTopic, Wait: 2 * time.Second, Log: log}
	ctx, cancel := context.WithCancel(context.Background())
	b := &runningBoard{stop: cancel, done: make(chan error, 1), follow: f}
	ready := make(chan string, 1)
	go func() {
		b.done <- board.Run(ctx, board.Config{Addr: addr, Fleet: &board.FleetAPI{URL: st.URL + "/streams"}, Follower: f, Log: log,
			Ready: func(u string, _ int) { ready <- u }})
	}()
	select {
	case b.url = <-ready:
	case err := <-b.done:
		t.Fatalf("the board did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the board did not start within 30 s")
	}
	return b
}

// close stops the board and checks it removed its queue and subscription.
func (b *runningBoard) close(t *testing.T, st *localstack.Stack) {
	t.Helper()
	b.stop()
	if err := <-b.done; err != nil {
		t.Fatalf("the board's exit: %v", err)
	}
	urls, err := (&board.QueryQueues{Endpoint: st.SNSEndpoint}).List(context.Background(), board.QueuePrefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(urls) != 0 {
		t.Fatalf("queues left after the board's exit: %v", urls)
	}
	subs, err := testenv.SNSAt(st.SNSEndpoint).ListSubscriptionsByTopic(context.Background(), &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(st.ChangesTopic)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs.Subscriptions {
		if strings.Contains(aws.ToString(s.Endpoint), board.QueuePrefix) {
			t.Fatalf("subscription left after the board's exit: %s", aws.ToString(s.Endpoint))
		}
	}
}

// TestBoardInABrowser is the board's proof: the local stack (the real
// handlers against DynamoDB Local and goaws), `fastpixctl board`'s Run,
// and the page in a headless Chromium. Posted events show on the page
// within 2 s; markup in names stays text; the board restarted mid-stream
// misses no change, and so does a board whose queue is deleted under it;
// its queue is gone after each exit.
func TestBoardInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DynamoDB Local, goaws and Chromium")
	}
	bctx := browser(t, 1400, 820)
	logs := &testenv.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Config{LogDir: t.TempDir(), Logger: log, RetryDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	defer func() {
		if t.Failed() {
			t.Logf("stack and board log:\n%s", logs.String())
		}
	}()
	if st.ChangesTopic == "" {
		t.Fatal("the stack has no change feed")
	}

	// The fleet before the board starts: a control room's morning.
	s := &sender{st: st}
	const (
		wsNews, wsSport = "ws-newsroom", "ws-sport"
		xss             = `<script>document.title="pwned"</script>`
		xssTarget       = `<img src=x onerror="document.title='pwned'">`
	)
	fleet := []struct{ id, ws, event, status string }{
		{"main-stage", wsNews, "active", "active"},
		{"studio-b", wsNews, "idle", "idle"},
		{"press-room", wsNews, "connected", "connected"},
		{"match-day-1", wsSport, "active", "active"},
		{"match-day-2", wsSport, "disconnected", "disconnected"},
		{"warmup-cam", wsSport, "idle", "idle"},
		{xss, wsSport, "idle", "idle"},
	}
	for _, f := range fleet {
		s.stream(t, f.id, f.ws, f.event, f.status)
	}
	for _, tg := range []struct{ stream, target, status string }{
		{"main-stage", "youtube-main", "broadcasting"}, {"main-stage", "twitch-main", "broadcasting"}, {"main-stage", "facebook-main", "starting"},
		{"match-day-1", "youtube-sport", "broadcasting"}, {"match-day-1", "twitch-sport", "created"},
		{"match-day-2", "youtube-sport-2", "broadcasting"},
		{xss, xssTarget, "created"},
	} {
		s.target(t, tg.stream, tg.target, wsNews, tg.status)
	}
	listed(t, st, len(fleet))

	b := startBoard(t, st, "127.0.0.1:0", log)
	addr := strings.TrimPrefix(b.url, "http://")
	if _, err := chromedp.Run(bctx, chromedp.Navigate(b.url)); err != nil {
		t.Fatal(err)
	}
	title := evalString(t, bctx, `document.title`)

	// The page shows the fleet.
	waitPage(t, bctx, "the fleet", fmt.Sprintf(`document.querySelectorAll('#rows tr').length === %d && document.querySelector('#conn').dataset.state === 'live'`, len(fleet)), 10*time.Second)
	if got := evalString(t, bctx, rowExpr("main-stage")+`.querySelector('.status .badge').textContent`); got != "active" {
		t.Fatalf("main-stage shows %q", got)
	}

	// Markup in a name is text: shown as written, nothing parsed or run.
	if got := evalString(t, bctx, rowExpr(xss)+`.querySelector('td.id').textContent`); got != xss {
		t.Fatalf("the stream named with markup shows %q", got)
	}
	if got := evalString(t, bctx, rowExpr(xss)+`.querySelector('.chip .t').textContent`); got != xssTarget {
		t.Fatalf("the target named with markup shows %q", got)
	}
	if n := evalString(t, bctx, `String(document.querySelectorAll('#rows script, #rows img').length)`); n != "0" {
		t.Fatalf("%s elements were made from payload markup", n)
	}

	// Each change on the page within 2 s of its post.
	s.stream(t, "studio-b", wsNews, "active", "active")
	took := waitPage(t, bctx, "studio-b active", rowExpr("studio-b")+`?.querySelector('.status .badge').textContent === 'active'`, 2*time.Second)
	t.Logf("active on the page %s after its post", took.Round(time.Millisecond))

	s.target(t, "studio-b", "youtube-b", wsNews, "broadcasting")
	took = waitPage(t, bctx, "youtube-b broadcasting", rowExpr("studio-b")+`?.querySelector('.chip[data-target="youtube-b"] .s')?.textContent === 'broadcasting'`, 2*time.Second)
	t.Logf("simulcast broadcasting on the page %s after its post", took.Round(time.Millisecond))

	s.stream(t, "main-stage", wsNews, "disconnected", "disconnected")
	took = waitPage(t, bctx, "main-stage disconnected", rowExpr("main-stage")+`?.querySelector('.status .badge').textContent === 'disconnected'`, 2*time.Second)
	t.Logf("disconnected on the page %s after its post", took.Round(time.Millisecond))

	// The marks. A live stream's drop is held for the rules' grace: the
	// notifier's change says so ("alert":"held", "heldUntil").
	waitPage(t, bctx, "main-stage marked held", rowExpr("main-stage")+`?.dataset.alert === 'held' && `+rowExpr("main-stage")+`.querySelector('.mark').textContent.startsWith('drop held until ')`, 2*time.Second)
	// An unstable encoder takes three brief drops in ten minutes: its mark
	// comes here in a feed message published as the notifier writes it.
	publishRaw(t, st, map[string]any{"streamId": "match-day-1", "workspace": map[string]string{"id": wsSport}, "previousStatus": "active",
		"status": "active", "eventId": "flap-1", "type": "video.live_stream.active", "occurredAt": time.Now().UTC().Format(time.RFC3339Nano), "test": false, "alert": "unstable"})
	waitPage(t, bctx, "match-day-1 marked unstable", rowExpr("match-day-1")+`?.dataset.alert === 'unstable'`, 2*time.Second)

	// A change whose names carry markup, live: still text.
	s.target(t, xss, xssTarget, wsSport, "broadcasting")
	waitPage(t, bctx, "the markup-named target broadcasting", rowExpr(xss)+`?.querySelector('.chip .s')?.textContent === 'broadcasting'`, 2*time.Second)
	if n := evalString(t, bctx, `String(document.querySelectorAll('#rows script, #rows img').length)`); n != "0" || evalString(t, bctx, `document.title`) != title {
		t.Fatalf("payload markup became elements (%s) or ran (title %q)", n, evalString(t, bctx, `document.title`))
	}

	// The filters.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { const f = document.querySelector('#filter-status'); f.value = 'disconnected'; f.dispatchEvent(new Event('change')); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "the disconnected filter", `[...document.querySelectorAll('#rows tr')].filter((r) => !r.hidden).map((r) => r.dataset.id).sort().join() === 'main-stage,match-day-2'`, 2*time.Second)
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { const f = document.querySelector('#filter-status'); f.value = ''; f.dispatchEvent(new Event('change'));
		const w = document.querySelector('#filter-workspace'); w.value = 'ws-sport'; w.dispatchEvent(new Event('change')); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "the workspace filter", `[...document.querySelectorAll('#rows tr')].filter((r) => !r.hidden).length === 4`, 2*time.Second)
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { const w = document.querySelector('#filter-workspace'); w.value = ''; w.dispatchEvent(new Event('change')); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	// The counts at the top.
	waitPage(t, bctx, "the counts", `document.querySelector('#counts button[data-status="disconnected"] .n').textContent === '2' && document.querySelector('#counts button[data-status="active"] .n').textContent === '2'`, 2*time.Second)
	if path := os.Getenv(EnvScreenshot); path != "" {
		screenshot(t, bctx, path)
	}

	// The board restarted mid-stream: its queue goes with it; a change made
	// while it is down shows once the next board is up, and so does one
	// after.
	b.close(t, st)
	waitPage(t, bctx, "the lost connection shown", `document.querySelector('#conn').dataset.state !== 'live'`, 5*time.Second)
	s.stream(t, "press-room", wsNews, "active", "active") // while no board runs
	s.target(t, "match-day-2", "youtube-sport-2", wsSport, "created")
	listedStatus(t, st, "press-room", "active")
	b = startBoard(t, st, addr, log)
	waitPage(t, bctx, "the change made while the board was down", rowExpr("press-room")+`?.querySelector('.status .badge').textContent === 'active' && `+
		rowExpr("match-day-2")+`.querySelector('.chip .s').textContent === 'created' && document.querySelector('#conn').dataset.state === 'live'`, 10*time.Second)
	s.stream(t, "warmup-cam", wsSport, "active", "active")
	waitPage(t, bctx, "a change after the restart", rowExpr("warmup-cam")+`?.querySelector('.status .badge').textContent === 'active'`, 2*time.Second)
	if resets := evalString(t, bctx, `String(window.boardStats.resets)`); resets == "0" {
		t.Fatal("the page never re-read the fleet after the restart")
	}

	// Its queue deleted under it: the board subscribes a new one, the page
	// re-reads the fleet, and the next change shows.
	resets := evalString(t, bctx, `String(window.boardStats.resets)`)
	qs, err := (&board.QueryQueues{Endpoint: st.SNSEndpoint}).List(ctx, board.QueuePrefix)
	if err != nil || len(qs) != 1 {
		t.Fatalf("the board's queues: %v %v", qs, err)
	}
	if err := (&board.QueryQueues{Endpoint: st.SNSEndpoint}).DeleteQueue(ctx, qs[0]); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "the fleet re-read after a new subscription", `String(window.boardStats.resets) !== `+js(resets)+` && document.querySelector('#conn').dataset.state === 'live'`, 10*time.Second)
	s.stream(t, "studio-b", wsNews, "idle", "idle")
	waitPage(t, bctx, "a change through the new queue", rowExpr("studio-b")+`?.querySelector('.status .badge').textContent === 'idle'`, 2*time.Second)

	b.close(t, st)
}

// listedStatus waits until the query API shows the stream in status.
func listedStatus(t *testing.T, st *localstack.Stack, id, status string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(st.URL + "/streams?status=" + status)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), `"streamId":`+js(id)) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the query API never listed %s as %s", id, status)
}

// publishRaw publishes a change message to the stack's feed topic as it
// is, with the filter attributes the feed sets.
func publishRaw(t *testing.T, st *localstack.Stack, msg map[string]any) {
	t.Helper()
	body, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]snstypes.MessageAttributeValue{
		changefeed.AttrStreamID: {DataType: aws.String("String"), StringValue: aws.String(msg["streamId"].(string))},
		changefeed.AttrStatus:   {DataType: aws.String("String"), StringValue: aws.String(msg["status"].(string))},
	}
	if _, err := testenv.SNSAt(st.SNSEndpoint).Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(st.ChangesTopic), Message: aws.String(string(body)), MessageAttributes: attrs}); err != nil {
		t.Fatal(err)
	}
}

// screenshot writes the page as PNG to path (relative to the repository).
func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	if !filepath.IsAbs(path) {
		root, err := repo.Root()
		if err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(root, path)
	}
	time.Sleep(1500 * time.Millisecond) // the flash of the last change fades
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestBoardPageShowsOutages: the page says when the board cannot read the
// change feed, and when it lost the board itself, and recovers from both.
func TestBoardPageShowsOutages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	bctx := browser(t, 1200, 700)
	hub := board.NewHub(0, 0)
	state := board.NewState(hub, "")
	state.Load(bigFleet(3, 2, time.Now().UTC()), time.Now())
	srv := httptest.NewServer(board.Handler(state, hub, true))
	defer closeServer(bctx, srv)
	if _, err := chromedp.Run(bctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "the board live", `document.querySelector('#conn').dataset.state === 'live' && document.querySelectorAll('#rows tr').length === 3`, 10*time.Second)

	state.SetFeed(fmt.Errorf("receive from the board's queue: %s", "<b>QueueDoesNotExist</b>"))
	waitPage(t, bctx, "the feed outage", `document.querySelector('#conn').dataset.state === 'lost' && document.querySelector('#conn').textContent.includes('change feed cannot be read') && document.querySelector('#conn').textContent.includes('<b>QueueDoesNotExist</b>')`, 2*time.Second)
	state.SetFeed(nil)
	waitPage(t, bctx, "the feed back", `document.querySelector('#conn').dataset.state === 'live'`, 2*time.Second)

	// The board goes away: the page says so, and resumes when it is back.
	srv.CloseClientConnections()
	waitPage(t, bctx, "the lost board", `document.querySelector('#conn').dataset.state === 'lost'`, 5*time.Second)
	waitPage(t, bctx, "the board back", `document.querySelector('#conn').dataset.state === 'live'`, 10*time.Second)
	state.Apply(board.Change{StreamID: "stream-00001", Status: "disconnected", OccurredAt: time.Now().UTC().Add(time.Minute).Format(time.RFC3339Nano)})
	waitPage(t, bctx, "a change after the return", rowExpr("stream-00001")+`.querySelector('.status .badge').textContent === 'disconnected'`, 2*time.Second)
}

// closeServer takes the page off srv first: its event stream is a request
// that never ends by itself, and the page would reconnect.
func closeServer(ctx context.Context, srv *httptest.Server) {
	_, _ = chromedp.Run(ctx, chromedp.Navigate("about:blank"))
	srv.CloseClientConnections()
	srv.Close()
}

// TestBoardPageHeldMarkEnds: a held drop is marked until its heldUntil,
// then the mark goes by itself (the grace is over; the next change says
// what became of the stream).
func TestBoardPageHeldMarkEnds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	bctx := browser(t, 1200, 700)
	hub := board.NewHub(0, 0)
	state := board.NewState(hub, "")
	now := time.Now().UTC()
	state.Load(bigFleet(2, 1, now), now)
	srv := httptest.NewServer(board.Handler(state, hub, true))
	defer closeServer(bctx, srv)
	if _, err := chromedp.Run(bctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "the board live", `document.querySelector('#conn').dataset.state === 'live'`, 10*time.Second)
	held := "held"
	until := time.Now().UTC().Add(2 * time.Second)
	state.Apply(board.Change{StreamID: "stream-00000", Status: "disconnected", OccurredAt: now.Add(time.Second).Format(time.RFC3339Nano),
		Alert: &held, HeldUntil: until.Format("2006-01-02T15:04:05.000000000Z")})
	waitPage(t, bctx, "the held mark", rowExpr("stream-00000")+`?.querySelector('.mark')?.textContent === `+js("drop held until "+until.Format("15:04:05")+"Z")+
		` && document.querySelector('#counts button[data-alert] .n').textContent === '1'`, 2*time.Second)
	waitPage(t, bctx, "the held mark gone after its grace", rowExpr("stream-00000")+`?.dataset.alert === undefined && `+rowExpr("stream-00000")+`.querySelector('.mark') === null`+
		` && document.querySelector('#counts button[data-alert] .n').textContent === '0'`, 5*time.Second)
}
