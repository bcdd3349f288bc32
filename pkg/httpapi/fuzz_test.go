package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
)

var (
	fzSecret      = base64.StdEncoding.EncodeToString([]byte("fuzz-signing-secret"))
	fzOtherSecret = base64.StdEncoding.EncodeToString([]byte("someone-else"))
)

// fzStore is an in-memory eventstore.Writer with DynamoDB's once-per-id
// semantics; it fails every write when down.
type fzStore struct {
	mu   sync.Mutex
	down bool
	recs map[string]eventstore.Record
}

var errFzDown = errors.New("fuzz store: down")

func (s *fzStore) Put(_ context.Context, r eventstore.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errFzDown
	}
	if _, ok := s.recs[r.EventID]; ok {
		return eventstore.ErrDuplicate
	}
	s.recs[r.EventID] = r
	return nil
}

// FuzzWebhook drives the whole handler (adapter, ingest, parser, verifier,
// redactor) over an in-memory store. mode picks the method (bits 0-1), the
// base64 flag (bit 2), the signature (bits 3-4: right, the fuzzed one, none,
// the wrong secret), the header's spelling (bits 5-6) and a store outage
// (bit 7). Properties: no panic and no handler error; the status is one of
// the documented ones; 2xx only for a probe or a valid signature; a stored
// event was validly signed, is its own id, and its payload is JSON.
func FuzzWebhook(f *testing.F) {
	for i, s := range []string{
		``, `{}`, `{"data":{"streamKey":"k"}}`,
		`{"type":"video.live_stream.active","id":"e1","object":{"type":"live","id":"s1"},"data":{"streamId":"s1","streamKey":"k1","srtSecret":"x"}}`,
		`{"id":"e2","type":7}`, `[1]`, `{"id":"e3","type":"t"} x`,
	} {
		for _, mode := range []uint8{0, 1, 2, 4, 8, 16, 24, 32, 64, 96, 128, uint8(i * 37)} {
			f.Add([]byte(s), "sig", mode)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, fuzzSig string, mode uint8) {
		v, err := fastpix.NewVerifier(fzSecret)
		if err != nil {
			t.Fatal(err)
		}
		store := &fzStore{recs: map[string]eventstore.Record{}, down: mode&128 != 0}
		h := &httpapi.Webhook{
			Receiver: &ingest.Receiver{Keys: ingest.StaticKeys{V: v}, Store: store},
			Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		}
		method := []string{http.MethodPost, http.MethodPost, http.MethodGet, http.MethodPut}[mode&3]
		var sig string
		switch (mode >> 3) & 3 {
		case 0:
			sig, _ = fastpix.Sign(fzSecret, body)
		case 1:
			sig = fuzzSig
		case 3:
			sig, _ = fastpix.Sign(fzOtherSecret, body)
		}
		req := events.APIGatewayV2HTTPRequest{Body: string(body), Headers: map[string]string{}}
		req.RequestContext.HTTP.Method = method
		if mode&4 != 0 {
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
			if fuzzSig != "" && (mode>>3)&3 == 1 {
				req.Body = fuzzSig // a base64 flag over arbitrary text
			}
		}
		if sig != "" {
			name := []string{"fastpix-signature", "FastPix-Signature", "FASTPIX-SIGNATURE", "fastPix-Signature"}[(mode>>5)&3]
			req.Headers[name] = sig
		}

		resp, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatalf("Handle error: %v", err)
		}
		var ans map[string]any
		if json.Unmarshal([]byte(resp.Body), &ans) != nil {
			t.Fatalf("answer is not JSON: %q", resp.Body)
		}
		st := resp.StatusCode
		raw := body
		if req.IsBase64Encoded {
			if raw, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
				if method == http.MethodPost && st != http.StatusBadRequest {
					t.Fatalf("bad base64 answered %d", st)
				}
				return
			}
		}
		switch st {
		case 200, 400, 401, 405, 413:
		case 503:
			if !store.down {
				t.Fatalf("503 with the store up: %s", resp.Body)
			}
		default:
			t.Fatalf("status %d is none of the documented ones", st)
		}
		if method != http.MethodPost {
			if st != 405 {
				t.Fatalf("%s answered %d", method, st)
			}
			return
		}
		_, perr := fastpix.Parse(raw)
		probe := errors.Is(perr, fastpix.ErrProbe)
		signed := v.Verify(raw, sig) == nil
		if st == 200 && !probe && !signed {
			t.Fatalf("200 without a valid signature for a non-probe: %q", raw)
		}
		// (A body longer than a key may hold is refused as unstorable: 400.)
		if signed && !probe && perr == nil && !store.down && len(raw) <= eventstore.MaxKeyBytes && st != 200 {
			t.Fatalf("signed event answered %d: %s", st, resp.Body)
		}
		if !signed && !probe && st != 401 {
			t.Fatalf("unsigned event answered %d", st)
		}
		for id, r := range store.recs {
			if probe || !signed || st != 200 {
				t.Fatalf("stored %q: probe %v, signed %v, status %d", id, probe, signed, st)
			}
			if id != ans["eventId"] {
				t.Fatalf("stored %q, answered eventId %v", id, ans["eventId"])
			}
			if !json.Valid([]byte(r.Payload)) {
				t.Fatalf("stored payload is not JSON: %q", r.Payload)
			}
			if want, _ := fastpix.Redact(raw); r.Payload != string(want) {
				t.Fatalf("stored payload is not the redacted body:\n%q\n%q", r.Payload, want)
			}
		}
	})
}
