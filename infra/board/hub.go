package board

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of a Hub.
const (
	// DefaultRing is how many recent events a Hub keeps for resuming
	// clients: a browser that was away for less than this many changes
	// gets exactly what it missed; beyond, it is told to reset.
	DefaultRing = 4096
	// DefaultRingBytes bounds the ring's memory too: events carry a
	// stream's whole row, and a stream with many targets makes big ones.
	DefaultRingBytes = 64 << 20
	// DefaultClientBuffer is how many events may wait for one client. A
	// client that falls this far behind is cut off (it reconnects and
	// resumes from the ring), so that it never holds up the others.
	DefaultClientBuffer = 256
	// DefaultHeartbeat is the period of the comment line that keeps an
	// idle connection open through proxies and lets a dead one be noticed.
	DefaultHeartbeat = 15 * time.Second
	// writeTimeout bounds one write to a client: a browser that stops
	// reading is let go instead of holding its handler forever.
	writeTimeout = 10 * time.Second
)

// EventReset is the name of the event that tells a client the changes it
// missed cannot be replayed: it must read the whole fleet again.
const EventReset = "reset"

// Event is one server-sent event.
type Event struct {
	// ID is the hub's epoch and the event's sequence number, "epoch-seq".
	ID   string
	Name string
	Data []byte
	seq  uint64
}

// Hub fans events out to Server-Sent Events clients. It keeps a ring of
// the latest events so that a client that reconnects with Last-Event-ID
// gets what it missed, and tells it to reset when it cannot (the gap is
// older than the ring, or the id is from another run of the board: the
// epoch in every id differs from run to run).
//
// Publish never blocks on a client: each has a bounded buffer, and one
// whose buffer is full is disconnected, to resume by itself.
type Hub struct {
	ring, buffer int
	ringBytes    int
	heartbeat    time.Duration
	epoch        string

	mu      sync.Mutex
	seq     uint64
	events  []Event // the kept events, oldest first: len ≤ ring, bytes ≤ ringBytes
	bytes   int
	clients map[*client]struct{}
	dropped int
}

// client is one connected browser.
type client struct {
	ch chan Event
}

// NewHub returns a hub keeping ring events (DefaultRing when ≤ 0) and
// buffering at most buffer events per client (DefaultClientBuffer when
// ≤ 0). The epoch is taken from the clock, so ids of an earlier run never
// resume against this one.
func NewHub(ring, buffer int) *Hub {
	if ring <= 0 {
		ring = DefaultRing
	}
	if buffer <= 0 {
		buffer = DefaultClientBuffer
	}
	return &Hub{
		ring: ring, buffer: buffer, ringBytes: DefaultRingBytes, heartbeat: DefaultHeartbeat,
		epoch:   strconv.FormatInt(time.Now().UnixNano(), 36),
		clients: map[*client]struct{}{},
	}
}

func (h *Hub) id(seq uint64) string { return h.epoch + "-" + strconv.FormatUint(seq, 10) }

// Publish sends an event to every client and keeps it for resuming ones;
// it returns the event's id.
func (h *Hub) Publish(name string, data []byte) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e := Event{ID: h.id(h.seq), Name: name, Data: data, seq: h.seq}
	h.events = append(h.events, e)
	h.bytes += len(e.Data)
	for len(h.events) > 1 && (len(h.events) > h.ring || h.bytes > h.ringBytes) {
		h.bytes -= len(h.events[0].Data)
		h.events[0] = Event{} // let its data go
		h.events = h.events[1:]
	}
	for c := range h.clients {
		select {
		case c.ch <- e:
		default:
			// Too slow: cut it off. Its handler ends the response; the
			// browser reconnects with the last id it saw.
			close(c.ch)
			delete(h.clients, c)
			h.dropped++
		}
	}
	return e.ID
}

// LastID is the id of the latest event ("epoch-0" before the first): a
// snapshot taken together with it is followed by the events after it.
func (h *Hub) LastID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.id(h.seq)
}

// Clients is how many clients are connected.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Dropped is how many clients were cut off for being too slow.
func (h *Hub) Dropped() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}

// subscribe registers a client that has seen everything up to lastID
// ("" : nothing to resume, only new events). It returns the events to
// replay first, or reset when the gap cannot be replayed.
func (h *Hub) subscribe(lastID string) (c *client, replay []Event, reset bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c = &client{ch: make(chan Event, h.buffer)}
	h.clients[c] = struct{}{}
	if lastID == "" {
		return c, nil, false
	}
	seq, ok := h.parse(lastID)
	switch {
	case !ok || seq > h.seq:
		return c, nil, true
	case seq == h.seq:
		return c, nil, false
	}
	// The oldest kept event must be the one right after seq.
	if len(h.events) == 0 || h.events[0].seq > seq+1 {
		return c, nil, true
	}
	for _, e := range h.events {
		if e.seq > seq {
			replay = append(replay, e)
		}
	}
	return c, replay, false
}

func (h *Hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.ch)
	}
}

// parse reads an id of this hub's epoch.
func (h *Hub) parse(id string) (uint64, bool) {
	epoch, n, ok := strings.Cut(id, "-")
	if !ok || epoch != h.epoch {
		return 0, false
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	return seq, err == nil
}

// ServeHTTP streams events as text/event-stream. The client's position is
// its Last-Event-ID header (sent by the browser when it reconnects) or the
// "since" query parameter (the id that came with the snapshot it loaded).
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("since")
	}
	c, replay, reset := h.subscribe(last)
	defer h.unsubscribe(c)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	// retry: the browser reconnects after a second, not its default three.
	if err := h.write(w, rc, []byte("retry: 1000\n\n")); err != nil {
		return
	}
	if reset {
		if err := h.send(w, rc, Event{ID: h.LastID(), Name: EventReset, Data: []byte("{}")}); err != nil {
			return
		}
	}
	for _, e := range replay {
		if err := h.send(w, rc, e); err != nil {
			return
		}
	}
	beat := time.NewTicker(h.heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-c.ch:
			if !ok {
				return // cut off as too slow: the browser resumes
			}
			if err := h.send(w, rc, e); err != nil {
				return
			}
		case <-beat.C:
			if err := h.write(w, rc, []byte(": ping\n\n")); err != nil {
				return
			}
		}
	}
}

// send writes one event. Data with line breaks goes out as one data line
// per line, which the browser joins again; a line break inside it can
// never end the event early.
func (h *Hub) send(w http.ResponseWriter, rc *http.ResponseController, e Event) error {
	return h.write(w, rc, encodeEvent(e))
}

func encodeEvent(e Event) []byte {
	b := make([]byte, 0, len(e.Data)+len(e.ID)+len(e.Name)+24)
	b = append(b, "id: "...)
	b = append(b, e.ID...)
	b = append(b, "\nevent: "...)
	b = append(b, e.Name...)
	b = append(b, '\n')
	data := strings.ReplaceAll(strings.ReplaceAll(string(e.Data), "\r\n", "\n"), "\r", "\n")
	for line := range strings.SplitSeq(data, "\n") {
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
	}
	return append(b, '\n')
}

func (h *Hub) write(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // not every ResponseWriter supports it
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("board: write event: %w", err)
	}
	if err := rc.Flush(); err != nil {
		return fmt.Errorf("board: flush event: %w", err)
	}
	return nil
}

// Wait blocks until n clients are connected or ctx ends (for tests and
// the browser proof, which must not publish before the page listens).
func (h *Hub) Wait(ctx context.Context, n int) error {
	for h.Clients() < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
