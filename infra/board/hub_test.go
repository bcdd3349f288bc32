package board

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sseEvent is one event as a client parses it.
type sseEvent struct {
	ID, Name, Data string
}

// sseReader parses a text/event-stream the way a browser does (id, event,
// data lines; a blank line ends an event; comments and retry ignored).
type sseReader struct {
	r *bufio.Reader
}

func (s *sseReader) next() (sseEvent, error) {
	var e sseEvent
	var data []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return e, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if e.Name == "" && len(data) == 0 {
				continue // end of a comment or retry block
			}
			e.Data = strings.Join(data, "\n")
			return e, nil
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
		case strings.HasPrefix(line, "id: "):
			e.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.Name = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = append(data, line[6:])
		}
	}
}

// connect opens the hub's stream at srv with the given Last-Event-ID.
func connect(t *testing.T, ctx context.Context, srv *httptest.Server, lastID string) (*sseReader, func()) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	return &sseReader{r: bufio.NewReader(resp.Body)}, func() { resp.Body.Close() }
}

func readN(t *testing.T, r *sseReader, n int) []sseEvent {
	t.Helper()
	var out []sseEvent
	for range n {
		e, err := r.next()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, e)
	}
	return out
}

func datas(es []sseEvent) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Data)
	}
	return strings.Join(s, ",")
}

func TestHubResumesAfterReconnect(t *testing.T) {
	h := NewHub(16, 16)
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	r, closeConn := connect(t, ctx, srv, "")
	if err := h.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	h.Publish("change", []byte("1"))
	h.Publish("change", []byte("2"))
	got := readN(t, r, 2)
	if datas(got) != "1,2" || got[1].Name != "change" {
		t.Fatalf("got %+v", got)
	}
	closeConn()
	// Missed while away.
	h.Publish("change", []byte("3"))
	h.Publish("change", []byte("4"))

	r, closeConn = connect(t, ctx, srv, got[1].ID)
	defer closeConn()
	if err := h.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	h.Publish("change", []byte("5"))
	if got := readN(t, r, 3); datas(got) != "3,4,5" {
		t.Fatalf("resumed with %q, want 3,4,5", datas(got))
	}
}

func TestHubResetsWhenTheGapIsOlderThanTheRing(t *testing.T) {
	h := NewHub(3, 16)
	first := h.Publish("change", []byte("1"))
	for i := 2; i <= 6; i++ {
		h.Publish("change", fmt.Appendf(nil, "%d", i))
	}
	_, replay, reset := h.subscribe(first)
	if !reset || replay != nil {
		t.Fatalf("resume from event 1 with only 4..6 kept: reset %v, replay %d events", reset, len(replay))
	}
	// The oldest resumable position: right before the oldest kept event.
	_, replay, reset = h.subscribe(h.id(3))
	if reset || len(replay) != 3 || string(replay[0].Data) != "4" || string(replay[2].Data) != "6" {
		t.Fatalf("resume from 3: reset %v, replay %+v", reset, replay)
	}
	_, replay, reset = h.subscribe(h.LastID())
	if reset || len(replay) != 0 {
		t.Fatalf("resume from the last id: reset %v, replay %d", reset, len(replay))
	}
}

// The ring is bounded in bytes as well as in events: big events push the
// oldest out sooner, and a resume beyond them resets.
func TestHubRingIsBoundedInBytes(t *testing.T) {
	h := NewHub(1000, 8)
	h.ringBytes = 10 << 10
	first := h.Publish("change", make([]byte, 4<<10))
	for range 5 {
		h.Publish("change", make([]byte, 4<<10))
	}
	if len(h.events) != 2 || h.bytes != 8<<10 {
		t.Fatalf("kept %d events, %d bytes; want the 2 newest, 8 KiB", len(h.events), h.bytes)
	}
	if _, _, reset := h.subscribe(first); !reset {
		t.Fatal("resume past the byte budget did not reset")
	}
	// One event bigger than the budget is still kept (the newest always is).
	h.Publish("change", make([]byte, 20<<10))
	if len(h.events) != 1 {
		t.Fatalf("kept %d events", len(h.events))
	}
}

func TestHubResetsAnIDItDidNotIssue(t *testing.T) {
	earlier := NewHub(8, 8) // the board before a restart
	old := earlier.Publish("change", []byte("x"))
	time.Sleep(time.Millisecond) // epochs are clock-based
	h := NewHub(8, 8)
	h.Publish("change", []byte("y"))
	for _, id := range []string{old, "garbage", h.epoch + "-99", h.epoch + "-x", "-1", "<script>"} {
		if _, _, reset := h.subscribe(id); !reset {
			t.Errorf("Last-Event-ID %q: no reset", id)
		}
	}
	// Over HTTP the reset is an event of its own, carrying the current id.
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, closeConn := connect(t, ctx, srv, old)
	defer closeConn()
	e := readN(t, r, 1)[0]
	if e.Name != EventReset || e.ID != h.LastID() {
		t.Fatalf("got %+v, want a reset with id %s", e, h.LastID())
	}
}

func TestHubSlowClientDoesNotBlockOthers(t *testing.T) {
	h := NewHub(1000, 4)
	slow, _, _ := h.subscribe("") // never reads
	fast, _, _ := h.subscribe("")
	got := make(chan int)
	go func() {
		n := 0
		for range fast.ch {
			n++
			if n == 100 {
				break
			}
		}
		got <- n
	}()
	done := make(chan struct{})
	go func() {
		for i := range 100 {
			h.Publish("change", fmt.Appendf(nil, "%d", i))
			time.Sleep(100 * time.Microsecond) // let the fast reader keep up
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a client that does not read")
	}
	if n := <-got; n != 100 {
		t.Fatalf("the reading client got %d of 100", n)
	}
	if h.Dropped() != 1 {
		t.Fatalf("dropped %d clients, want the slow one", h.Dropped())
	}
	// The slow client's channel is closed after what it could hold: its
	// handler ends the response, and the browser resumes from there.
	var held []Event
	for e := range slow.ch {
		held = append(held, e)
	}
	if len(held) != 4 {
		t.Fatalf("the slow client held %d events, want its buffer of 4", len(held))
	}
	_, replay, reset := h.subscribe(held[3].ID)
	if reset || len(replay) != 96 || string(replay[0].Data) != "4" {
		t.Fatalf("resume of the slow client: reset %v, %d events", reset, len(replay))
	}
}

// TestHubSlowConnection is the same over HTTP: a browser that stops
// reading its socket is cut off while another receives every event, and
// resuming from the last event it read gives it the rest.
func TestHubSlowConnection(t *testing.T) {
	h := NewHub(200, 4)
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slow, closeSlow := connect(t, ctx, srv, "")
	defer closeSlow()
	fast, closeFast := connect(t, ctx, srv, "")
	defer closeFast()
	if err := h.Wait(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// 256 KiB events fill the slow socket's buffers in a few events.
	const n = 100
	big := strings.Repeat("x", 256<<10)
	fastGot := make(chan sseEvent)
	go func() {
		for {
			e, err := fast.next()
			if err != nil {
				close(fastGot)
				return
			}
			fastGot <- e
		}
	}()
	var es []sseEvent
	for i := range n {
		h.Publish("change", fmt.Appendf(nil, "%d %s", i, big))
		// The reading client keeps up (it reads each event before the
		// next is published); the other does not read at all.
		e, ok := <-fastGot
		if !ok {
			break
		}
		es = append(es, e)
	}
	if len(es) != n || !strings.HasPrefix(es[n-1].Data, fmt.Sprint(n-1, " ")) {
		t.Fatalf("the reading client got %d of %d events", len(es), n)
	}
	if h.Dropped() != 1 {
		t.Fatalf("dropped %d clients, want 1", h.Dropped())
	}
	// Now the slow one reads what reached it, up to the cut.
	var last string
	count := 0
	for {
		e, err := slow.next()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last, count = e.ID, count+1
	}
	if count == 0 || count >= n {
		t.Fatalf("the slow client read %d events before the cut", count)
	}
	r, closeConn := connect(t, ctx, srv, last)
	defer closeConn()
	rest := readN(t, r, n-count)
	if !strings.HasPrefix(rest[0].Data, fmt.Sprint(count, " ")) || !strings.HasPrefix(rest[len(rest)-1].Data, fmt.Sprint(n-1, " ")) {
		t.Fatalf("resume after the cut: first %.10q, last %.10q", rest[0].Data, rest[len(rest)-1].Data)
	}
}

func TestEncodeEventKeepsLineBreaksInsideData(t *testing.T) {
	b := encodeEvent(Event{ID: "e-1", Name: "change", Data: []byte("a\nb\r\nc\rd\n\nid: 9")})
	r := &sseReader{r: bufio.NewReader(strings.NewReader(string(b)))}
	e, err := r.next()
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "e-1" || e.Data != "a\nb\nc\nd\n\nid: 9" {
		t.Fatalf("got %+v", e)
	}
}

func bufioReader(resp *http.Response) *bufio.Reader { return bufio.NewReader(resp.Body) }
