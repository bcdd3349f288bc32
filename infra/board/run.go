package board

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// FleetReader reads the fleet: FleetAPI, or a fake in tests.
type FleetReader interface {
	List(ctx context.Context, statuses []string, workspace string) ([]Stream, error)
}

// Config configures Run.
type Config struct {
	// Addr is where the board listens (host:port; DefaultAddr when empty).
	// On a loopback address it answers loopback names only.
	Addr     string
	Fleet    FleetReader
	Follower *Follower
	// Workspace keeps the board to one workspace ("" : all).
	Workspace string
	Log       *slog.Logger
	// Ready is called once the board serves the loaded fleet, with its URL
	// and the number of streams.
	Ready func(url string, streams int)
	// Hub, when set, is the hub the board publishes to (the browser proof
	// watches its clients); a new one when nil.
	Hub *Hub
}

// DefaultAddr is where `fastpixctl board` listens by default: this
// machine only.
const DefaultAddr = "127.0.0.1:8080"

// closeTimeout bounds the clean-up on exit (unsubscribe, delete queue).
const closeTimeout = 15 * time.Second

// Run is the board: it sweeps what a crashed board of this machine left,
// subscribes its queue to the feed, serves the page, reads the fleet,
// and follows the feed until ctx ends; then it removes its subscription
// and queue.
func Run(ctx context.Context, cfg Config) (err error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	if cfg.Fleet == nil || cfg.Follower == nil {
		return errors.New("board: a fleet reader and a follower are required")
	}
	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	hub := cfg.Hub
	if hub == nil {
		hub = NewHub(0, 0)
	}
	state := NewState(hub, cfg.Workspace)

	if _, err := cfg.Follower.Sweep(ctx); err != nil {
		log.Warn("board: sweeping leftovers of earlier boards failed (continuing)", "err", err)
	}
	// Listen before subscribing: a taken port fails before anything is
	// created in the account.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("board: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: Handler(state, hub, IsLoopbackAddr(ln.Addr().String())), ReadHeaderTimeout: 10 * time.Second}
	defer srv.Close() // ends the event streams too: the browsers reconnect to the next board

	// Subscribe before the fleet is read: a change made while it is read
	// is then in the queue, and State keeps whichever is newer.
	if err := cfg.Follower.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		if cerr := cfg.Follower.Close(cctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("board: clean-up (the next start removes what is left): %w", cerr))
		}
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	cfg.Follower.Resubscribed = func(ctx context.Context) {
		streams, err := cfg.Fleet.List(ctx, BoardStatuses(), cfg.Workspace)
		if err != nil {
			log.Warn("board: re-reading the fleet after a new subscription failed; the board may miss changes until it is restarted", "err", err)
			state.SetFeed(fmt.Errorf("re-read the fleet: %w", err))
			return
		}
		state.Load(streams, time.Now())
	}
	followCtx, stopFollowing := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		_ = cfg.Follower.Run(followCtx, func(c Change) {
			if _, err := state.Apply(c); err != nil {
				log.Warn("board: a change was not applied", "stream", c.StreamID, "err", err)
			}
		}, state.SetFeed)
	}()
	defer func() { stopFollowing(); <-followed }()

	streams, err := cfg.Fleet.List(ctx, BoardStatuses(), cfg.Workspace)
	if err != nil {
		return fmt.Errorf("board: read the fleet: %w", err)
	}
	state.Load(streams, time.Now())
	url := "http://" + ln.Addr().String()
	if cfg.Ready != nil {
		cfg.Ready(url, state.Len())
	}
	log.Info("board: serving", "url", url, "streams", state.Len())
	select {
	case <-ctx.Done():
		return nil
	case err := <-serveErr:
		return fmt.Errorf("board: serve: %w", err)
	}
}
