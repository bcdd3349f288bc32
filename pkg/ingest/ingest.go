// Package ingest receives one FastPix delivery: it tells a validation probe
// from an event, checks the signature, redacts the credentials and stores
// the event once. It answers only after the event is durable.
//
// It knows nothing of HTTP or Lambda: adapters turn its outcomes and errors
// into status codes.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/deadline"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// Outcome says what became of a delivery that did not fail.
type Outcome string

const (
	// Accepted: the event is new and now stored.
	Accepted Outcome = "accepted"
	// Duplicate: the event was stored before; nothing was written.
	Duplicate Outcome = "duplicate"
	// Probe: a validation probe, answered and not stored.
	Probe Outcome = "probe"
)

// Errors of Receive, for callers to branch on with errors.Is. Each wraps the
// cause, which says what a person needs to know.
var (
	// ErrUnauthorized: the signature is missing or wrong (a retry will not help).
	ErrUnauthorized = errors.New("ingest: signature check failed")
	// ErrMalformed: signed, but not an event (a retry will not help).
	ErrMalformed = errors.New("ingest: malformed event")
	// ErrUnavailable: the event could not be made durable; retry later.
	ErrUnavailable = errors.New("ingest: event not stored")
	// ErrNotConfigured: the receiver has no usable signing secret; it
	// refuses events until it has one, so a retry after the fix helps.
	ErrNotConfigured = errors.New("ingest: signing secret not configured")
)

// Result describes a delivery that did not fail.
type Result struct {
	Outcome  Outcome
	EventID  string
	Type     string
	StreamID string
	// ClockSkewed: createdAt was too far ahead of our receive time, and the
	// event is ordered in its stream's log by the receive time.
	ClockSkewed bool
}

// Keys supplies the Verifier. It is called per delivery so that secrets can
// be loaded lazily and cached (see CachedKeys).
type Keys interface {
	Verifier(ctx context.Context) (*fastpix.Verifier, error)
}

// Receiver handles deliveries. Its zero value is not usable: set Keys and
// Store.
type Receiver struct {
	Keys  Keys
	Store eventstore.Writer
	// Retention is how long stored events live (eventstore.DefaultRetention
	// when zero).
	Retention time.Duration
	// ClockSkewTolerance is how far ahead of our receive time an event's
	// createdAt is trusted to order it in its stream's log
	// (eventstore.DefaultClockSkewTolerance when zero).
	ClockSkewTolerance time.Duration
	// StoreTimeout bounds the write, so that a slow store yields an answer
	// FastPix retries rather than a timed-out request (10 s when zero).
	// When the context has a deadline (a Lambda invocation's), the write
	// also ends DeadlineMargin before it: a function killed at its timeout
	// writes no 503, no log line and no metric.
	StoreTimeout time.Duration
	// DeadlineMargin is the time kept, after the write gives up, to answer,
	// log and count the failure before the context's deadline
	// (DefaultDeadlineMargin when zero).
	DeadlineMargin time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Receive handles the raw body of one delivery and the value of its
// FastPix-Signature header.
func (r *Receiver) Receive(ctx context.Context, body []byte, signature string) (Result, error) {
	ev, perr := fastpix.Parse(body)
	if errors.Is(perr, fastpix.ErrProbe) {
		return Result{Outcome: Probe}, nil
	}
	v, err := r.Keys.Verifier(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrNotConfigured, err)
	}
	if err := v.Verify(body, signature); err != nil {
		if !r.verifyRefreshed(ctx, body, signature, err) {
			return Result{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
	}
	if perr != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrMalformed, perr)
	}
	res := Result{EventID: ev.ID, Type: ev.Type, StreamID: ev.StreamID}
	redacted, err := fastpix.Redact(body)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	rec, skewed := eventstore.NewRecord(ev, redacted, now(), r.Retention, r.ClockSkewTolerance)
	res.ClockSkewed = skewed

	sctx, cancel := r.storeContext(ctx)
	defer cancel()
	switch err := r.Store.Put(sctx, rec); {
	case err == nil:
		res.Outcome = Accepted
	case errors.Is(err, eventstore.ErrDuplicate):
		res.Outcome = Duplicate
	case errors.Is(err, eventstore.ErrUnstorable):
		// Signed, but too large for the table: a retry will not help.
		return res, fmt.Errorf("%w: %w", ErrMalformed, err)
	default:
		return res, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return res, nil
}

// DefaultStoreTimeout bounds a write when StoreTimeout is zero.
const DefaultStoreTimeout = 10 * time.Second

// DefaultDeadlineMargin is what the write leaves of an invocation's time:
// far more than answering takes, far less than a write needs.
const DefaultDeadlineMargin = time.Second

// storeContext gives the write StoreTimeout, cut to end DeadlineMargin
// before ctx's own deadline when it has one. A deadline already within the
// margin leaves the write no time: it fails at once, and the caller still
// answers in time.
func (r *Receiver) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := r.StoreTimeout
	if timeout <= 0 {
		timeout = DefaultStoreTimeout
	}
	margin := r.DeadlineMargin
	if margin <= 0 {
		margin = DefaultDeadlineMargin
	}
	reserved, release := deadline.Reserve(ctx, margin)
	sctx, cancel := context.WithTimeout(reserved, timeout)
	return sctx, func() { cancel(); release() }
}

// StaticKeys always supplies the same Verifier, or the same error.
type StaticKeys struct {
	V   *fastpix.Verifier
	Err error
}

// Verifier implements Keys.
func (k StaticKeys) Verifier(context.Context) (*fastpix.Verifier, error) {
	if k.V == nil && k.Err == nil {
		return nil, fastpix.ErrNoSecret
	}
	return k.V, k.Err
}

// Refresher is Keys whose secrets can change while the process runs.
type Refresher interface {
	// Refresh reloads the secrets, unless they were loaded too recently, and
	// returns the new Verifier, or nil when nothing changed.
	Refresh(ctx context.Context) (*fastpix.Verifier, error)
}

// verifyRefreshed gives a signature that matched none of the cached secrets
// a second chance against freshly loaded ones. During a rotation the new
// secret is added beside the old one before FastPix switches to it; a warm
// function that cached only the old one would otherwise refuse every
// delivery signed with the new one until it is recycled.
func (r *Receiver) verifyRefreshed(ctx context.Context, body []byte, signature string, verr error) bool {
	rk, ok := r.Keys.(Refresher)
	if !ok || !errors.Is(verr, fastpix.ErrInvalidSignature) {
		return false
	}
	v, err := rk.Refresh(ctx)
	if err != nil || v == nil {
		return false
	}
	return v.Verify(body, signature) == nil
}

// Receiver finds Refresh by a run-time type assertion; these stop the build
// when CachedKeys' methods drift from the interfaces, which would otherwise
// silently end secret rotation for a warm function.
var (
	_ Keys      = (*CachedKeys)(nil)
	_ Refresher = (*CachedKeys)(nil)
)

// DefaultMaxAge is how long CachedKeys trusts its secrets before reading
// them again, which bounds how long a retired secret is still accepted.
const DefaultMaxAge = 5 * time.Minute

// DefaultRefreshInterval is how often, at most, CachedKeys reloads its
// secrets after a signature fails, so forged deliveries cannot turn into a
// flood of reads of the secret store.
const DefaultRefreshInterval = time.Minute

// CachedKeys loads the secrets once, on first use, and keeps them for the
// life of the process (a Lambda cold start), reading them again every
// MaxAge. A failed first load is not kept: the next delivery tries again, so
// a passing outage of the secret store costs retries, not events; a failed
// later load keeps the secrets in hand. After a rotation, Refresh picks the
// new secret up at once.
type CachedKeys struct {
	// Load returns the signing secrets, each base64, possibly several in one
	// comma-separated string.
	Load func(ctx context.Context) ([]string, error)
	// RefreshInterval bounds how often Refresh reloads
	// (DefaultRefreshInterval when zero).
	RefreshInterval time.Duration
	// MaxAge is how long loaded secrets are used before they are read again
	// (DefaultMaxAge when zero).
	MaxAge time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// BadSecret, when set, is told of each load that held secrets that are
	// not base64 (err wraps fastpix.ErrBadSecret and names their positions,
	// never their values). The valid secrets are used all the same; a
	// metrics observer counts the bad ones. Without it they are logged.
	BadSecret func(err error)

	mu       sync.Mutex        // guards the rest, and serialises loads
	v        *fastpix.Verifier // nil until a load succeeds
	loaded   string            // the secrets behind v, to tell a change
	loadedAt time.Time         // when Load last ran, successful or not
	lastErr  error             // what the last load said, while v is nil
}

// Verifier implements Keys.
func (k *CachedKeys) Verifier(ctx context.Context) (*fastpix.Verifier, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	age := k.now().Sub(k.loadedAt)
	switch {
	case k.v != nil && age < k.maxAge():
		return k.v, nil
	case k.v == nil && k.lastErr != nil && age < FailedLoadBackoff:
		// Nothing to verify with yet, and the store just said why: every
		// request on the open route must not become a read of it.
		return nil, k.lastErr
	}
	v, _, err := k.load(ctx)
	if err != nil && k.v != nil {
		// The secrets in hand still verify; the store is asked again at
		// the next expiry.
		return k.v, nil
	}
	return v, err
}

// FailedLoadBackoff is how long CachedKeys answers with its last load error
// before trying the secret store again, while it has no secret at all.
const FailedLoadBackoff = 5 * time.Second

func (k *CachedKeys) maxAge() time.Duration {
	if k.MaxAge > 0 {
		return k.MaxAge
	}
	return DefaultMaxAge
}

// Refresh implements Refresher.
func (k *CachedKeys) Refresh(ctx context.Context) (*fastpix.Verifier, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	interval := k.RefreshInterval
	if interval <= 0 {
		interval = DefaultRefreshInterval
	}
	if !k.loadedAt.IsZero() && k.now().Sub(k.loadedAt) < interval {
		return nil, nil
	}
	v, changed, err := k.load(ctx)
	if err != nil || !changed {
		return nil, err
	}
	return v, nil
}

// load runs Load and keeps what it gives; k.mu is held. It reports whether
// the secrets changed.
func (k *CachedKeys) load(ctx context.Context) (*fastpix.Verifier, bool, error) {
	k.loadedAt = k.now()
	v, changed, err := k.build(ctx)
	k.lastErr = err
	if err == nil && changed {
		k.v = v
	}
	return v, changed, err
}

func (k *CachedKeys) build(ctx context.Context) (*fastpix.Verifier, bool, error) {
	secrets, err := k.Load(ctx)
	if err != nil {
		return nil, false, err
	}
	joined := strings.Join(secrets, ",")
	if k.v != nil && joined == k.loaded {
		return k.v, false, nil
	}
	v, err := fastpix.NewVerifier(secrets...)
	if v == nil {
		return nil, false, err
	}
	if err != nil {
		// One malformed element of "new,old" must not refuse deliveries
		// signed with a good one: keep the good ones, and say so.
		if k.BadSecret != nil {
			k.BadSecret(err)
		} else {
			slog.ErrorContext(ctx, "signing secret skipped", "error", err.Error())
		}
	}
	k.loaded = joined
	return v, true, nil
}

func (k *CachedKeys) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}
