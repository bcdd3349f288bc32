package ingest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

const secret = "ZGVtby1zZWNyZXQ="

// memStore is a Writer in memory, with the same once-per-id rule as the
// DynamoDB store.
type memStore struct {
	mu    sync.Mutex
	items map[string]eventstore.Record
	err   error
	puts  int
}

var _ eventstore.Writer = (*memStore)(nil)

func (m *memStore) Put(ctx context.Context, r eventstore.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	if m.err != nil {
		return m.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, ok := m.items[r.EventID]; ok {
		return eventstore.ErrDuplicate
	}
	if m.items == nil {
		m.items = map[string]eventstore.Record{}
	}
	m.items[r.EventID] = r
	return nil
}

func newReceiver(t *testing.T, store eventstore.Writer) *Receiver {
	t.Helper()
	v, err := fastpix.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	return &Receiver{
		Keys:      StaticKeys{V: v},
		Store:     store,
		Retention: 24 * time.Hour,
		Now:       func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 5, time.UTC) },
	}
}

func sign(t *testing.T, body string) string {
	t.Helper()
	s, err := fastpix.Sign(secret, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const activeBody = `{"id":"e1","type":"video.live_stream.active","object":{"type":"live","id":"s1"},"workspace":{"id":"w1","name":"Prod"},"createdAt":"2026-11-26T11:59:58.5Z","data":{"streamId":"s1","streamKey":"FP_secret","srtSecret":"srt_secret","test":true}}`

func TestReceiveStoresOnceRedacted(t *testing.T) {
	store := &memStore{}
	r := newReceiver(t, store)
	ctx := context.Background()

	res, err := r.Receive(ctx, []byte(activeBody), sign(t, activeBody))
	if err != nil {
		t.Fatal(err)
	}
	if res != (Result{Outcome: Accepted, EventID: "e1", Type: "video.live_stream.active", StreamID: "s1"}) {
		t.Errorf("result = %+v", res)
	}
	rec := store.items["e1"]
	want := eventstore.Record{
		EventID: "e1", Type: "video.live_stream.active", StreamID: "s1",
		ObjectType: "live", ObjectID: "s1", WorkspaceID: "w1", WorkspaceName: "Prod",
		OccurredAt: "2026-11-26T11:59:58.500000000Z", ReceivedAt: "2026-11-26T12:00:00.000000005Z",
		Test:      true,
		Payload:   strings.NewReplacer("FP_secret", "[redacted]", "srt_secret", "[redacted]").Replace(activeBody),
		ExpiresAt: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC).Unix(),
		OrderKey:  "2026-11-26T11:59:58.500000000Z/05/e1",
	}
	if rec != want {
		t.Errorf("stored\n%+v\nwant\n%+v", rec, want)
	}

	res, err = r.Receive(ctx, []byte(activeBody), sign(t, activeBody))
	if err != nil || res.Outcome != Duplicate || res.EventID != "e1" {
		t.Errorf("second delivery = %+v, %v; want duplicate", res, err)
	}
	if len(store.items) != 1 || store.puts != 2 {
		t.Errorf("items %d puts %d", len(store.items), store.puts)
	}
}

func TestReceiveOutcomes(t *testing.T) {
	storeDown := errors.New("connection refused")
	tests := []struct {
		name     string
		body     string
		sig      string // "sign" signs body
		keys     Keys
		storeErr error
		want     Outcome
		wantErr  error
	}{
		{name: "empty probe, unsigned", body: "", want: Probe},
		{name: "{} probe, unsigned", body: "{}", want: Probe},
		{name: "signed probe", body: `{"hello":1}`, sig: "sign", want: Probe},
		{name: "probe with no secret configured", body: "{}", keys: StaticKeys{}, want: Probe},
		{name: "unsigned event", body: activeBody, wantErr: ErrUnauthorized},
		{name: "wrong signature", body: activeBody, sig: "SXTZYhjRshplUTerYmYX0D3d2LSTG3PWD2lY6XFLzd0=", wantErr: ErrUnauthorized},
		{name: "unsigned garbage", body: "not json", wantErr: ErrUnauthorized},
		{name: "signed garbage", body: "not json", sig: "sign", wantErr: ErrMalformed},
		{name: "signed array", body: `[1]`, sig: "sign", wantErr: ErrMalformed},
		{name: "signed, id missing", body: `{"type":"video.live_stream.active"}`, sig: "sign", wantErr: ErrMalformed},
		{name: "signed, type a number", body: `{"id":"e1","type":1}`, sig: "sign", wantErr: ErrMalformed},
		{name: "no secret configured", body: activeBody, sig: "sign", keys: StaticKeys{}, wantErr: ErrNotConfigured},
		{name: "store down", body: activeBody, sig: "sign", storeErr: storeDown, wantErr: ErrUnavailable},
		{name: "store timeout", body: activeBody, sig: "sign", storeErr: context.DeadlineExceeded, wantErr: ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memStore{err: tt.storeErr}
			r := newReceiver(t, store)
			if tt.keys != nil {
				r.Keys = tt.keys
			}
			sig := tt.sig
			if sig == "sign" {
				sig = sign(t, tt.body)
			}
			res, err := r.Receive(context.Background(), []byte(tt.body), sig)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil || res.Outcome != tt.want {
				t.Fatalf("= %+v, %v; want %s", res, err, tt.want)
			}
			if len(store.items) != 0 && tt.want != Accepted {
				t.Errorf("stored %d items", len(store.items))
			}
			if tt.storeErr != nil && !errors.Is(err, tt.storeErr) {
				t.Errorf("cause lost: %v", err)
			}
		})
	}
}

// A slow store is cut off at StoreTimeout, so the delivery fails in time
// for FastPix to retry rather than timing out.
func TestReceiveStoreTimeout(t *testing.T) {
	r := newReceiver(t, blockingStore{})
	r.StoreTimeout = 20 * time.Millisecond
	_, err := r.Receive(context.Background(), []byte(activeBody), sign(t, activeBody))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}

// The write's budget is StoreTimeout, cut to end DeadlineMargin before the
// invocation's deadline, so the handler still has time to answer 503, log
// and count the failure before Lambda ends the function.
func TestReceiveStoreBudgetLeavesTimeToAnswer(t *testing.T) {
	tests := []struct {
		name          string
		deadlineIn    time.Duration // 0: the context has no deadline
		storeTimeout  time.Duration
		margin        time.Duration
		wantEndBefore time.Duration // the write must end by then (after Receive)
		wantEndAfter  time.Duration // and not before then (from its start)
	}{
		{"no deadline: StoreTimeout", 0, 3 * time.Second, 0, 3 * time.Second, 2 * time.Second},
		{"no deadline, no StoreTimeout: the default", 0, 0, 0, DefaultStoreTimeout, DefaultStoreTimeout - time.Second},
		{"Lambda's 10 s deadline and the default 10 s timeout: a second is kept", 10 * time.Second, 0, 0, 9 * time.Second, 8 * time.Second},
		{"deadline far beyond StoreTimeout: StoreTimeout", time.Minute, 2 * time.Second, 0, 2 * time.Second, time.Second},
		{"own margin", 10 * time.Second, 0, 3 * time.Second, 7 * time.Second, 6 * time.Second},
		{"deadline inside the margin: no time to write", 500 * time.Millisecond, 0, 0, 0, -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &deadlineStore{}
			r := newReceiver(t, store)
			r.StoreTimeout, r.DeadlineMargin = tt.storeTimeout, tt.margin
			ctx := context.Background()
			if tt.deadlineIn > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadlineIn)
				defer cancel()
			}
			start := time.Now()
			_, err := r.Receive(ctx, []byte(activeBody), sign(t, activeBody))
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if !store.hasDeadline {
				t.Fatal("the write has no deadline")
			}
			if store.deadline.After(time.Now().Add(tt.wantEndBefore)) || store.deadline.Before(start.Add(tt.wantEndAfter)) {
				t.Errorf("the write ends %v after the start, want within (%v, %v]", store.deadline.Sub(start), tt.wantEndAfter, tt.wantEndBefore)
			}
		})
	}
}

// deadlineStore records the deadline it was given and fails, as a store
// that would have stalled until then.
type deadlineStore struct {
	deadline    time.Time
	hasDeadline bool
}

func (s *deadlineStore) Put(ctx context.Context, _ eventstore.Record) error {
	s.deadline, s.hasDeadline = ctx.Deadline()
	return context.DeadlineExceeded
}

type blockingStore struct{}

func (blockingStore) Put(ctx context.Context, _ eventstore.Record) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestCachedKeys(t *testing.T) {
	calls := 0
	fail := true
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	k := &CachedKeys{
		Load: func(context.Context) ([]string, error) {
			calls++
			if fail {
				return nil, errors.New("secrets manager unreachable")
			}
			return []string{secret}, nil
		},
		Now: func() time.Time { return clock },
	}
	ctx := context.Background()
	if _, err := k.Verifier(ctx); err == nil {
		t.Fatal("want the load error")
	}
	// Within the backoff, requests get the same error without a read.
	fail = false
	clock = clock.Add(FailedLoadBackoff / 2)
	if _, err := k.Verifier(ctx); err == nil || calls != 1 {
		t.Fatalf("within the backoff: err %v, loads %d; want the cached error and 1 load", err, calls)
	}
	clock = clock.Add(FailedLoadBackoff)
	v1, err := k.Verifier(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := k.Verifier(ctx)
	if v1 != v2 || calls != 2 {
		t.Errorf("loads = %d (want 2: the failure is not kept past the backoff, the success is)", calls)
	}

	bad := &CachedKeys{Load: func(context.Context) ([]string, error) { return []string{"%%%"}, nil }}
	if _, err := bad.Verifier(ctx); !errors.Is(err, fastpix.ErrBadSecret) {
		t.Errorf("bad secret: %v", err)
	}
}

// A warm receiver that cached only the old secret accepts the first
// delivery signed with the new one, once the operator has added it: it
// reloads on a failed signature, at most once per RefreshInterval.
func TestRotationWithoutAFailedDelivery(t *testing.T) {
	const next = "bmV4dC1zZWNyZXQ=" // base64 of "next-secret"
	stored := secret
	loads := 0
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	keys := &CachedKeys{
		Load: func(context.Context) ([]string, error) {
			loads++
			return []string{stored}, nil
		},
		Now: func() time.Time { return clock },
	}
	r := newReceiver(t, &memStore{})
	r.Keys = keys
	ctx := context.Background()
	deliver := func(id, withSecret string) (Result, error) {
		body := `{"id":"` + id + `","type":"video.live_stream.idle"}`
		sig, err := fastpix.Sign(withSecret, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return r.Receive(ctx, []byte(body), sig)
	}

	if res, err := deliver("e1", secret); err != nil || res.Outcome != Accepted {
		t.Fatalf("before rotation: %+v %v", res, err)
	}
	// Forged deliveries within the interval do not reach the secret store.
	for range 3 {
		clock = clock.Add(time.Second)
		if _, err := deliver("forged", "Zm9yZ2Vk"); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("forged: %v", err)
		}
	}
	if loads != 1 {
		t.Errorf("loads = %d after forged deliveries within a minute, want 1", loads)
	}

	// The operator adds the new secret beside the old; FastPix switches.
	stored = next + "," + secret
	clock = clock.Add(2 * time.Minute)
	if res, err := deliver("e2", next); err != nil || res.Outcome != Accepted {
		t.Fatalf("first delivery with the new secret: %+v %v", res, err)
	}
	if res, err := deliver("e3", secret); err != nil || res.Outcome != Accepted {
		t.Errorf("a retry still signed with the old secret: %+v %v", res, err)
	}
	// The old one is removed: deliveries with it fail once the cache
	// expires (MaxAge), without waiting for a new container.
	stored = next
	clock = clock.Add(DefaultMaxAge)
	if _, err := deliver("e4", secret); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("retired secret: %v", err)
	}
	if res, err := deliver("e5", next); err != nil || res.Outcome != Accepted {
		t.Errorf("new secret after retirement: %+v %v", res, err)
	}
	// A bad value in the store keeps the working verifier.
	stored = "%%%"
	clock = clock.Add(DefaultMaxAge)
	if res, err := deliver("e6", next); err != nil || res.Outcome != Accepted {
		t.Errorf("after a bad secret value: %+v %v", res, err)
	}
}

// One malformed element of the secret's value must not refuse every
// delivery of a cold container: the good secret verifies, the bad one is
// reported.
func TestCachedKeysSkipBadSecret(t *testing.T) {
	var reported []error
	k := &CachedKeys{
		Load:      func(context.Context) ([]string, error) { return []string{secret + ",%%%"}, nil },
		BadSecret: func(err error) { reported = append(reported, err) },
	}
	v, err := k.Verifier(context.Background())
	if err != nil || v == nil || v.Secrets() != 1 {
		t.Fatalf("Verifier = %v, %v; want the good secret", v, err)
	}
	if len(reported) != 1 || !errors.Is(reported[0], fastpix.ErrBadSecret) || strings.Contains(reported[0].Error(), "%%%") {
		t.Errorf("reported %v; want one ErrBadSecret that does not repeat the value", reported)
	}
}
