package fastpix_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// fuzzSeeds are bodies of the shapes FastPix sends and of shapes it must
// survive; every fuzz target of the package starts from them.
var fuzzSeeds = []string{
	``,
	`{}`,
	` {"data":{"streamKey":"k"}} `,
	`{"type":"video.media.ready","data":{"id":"abc-123"}}`,
	`{"type":"video.live_stream.created","request_id":null,"object":{"type":"live","id":"a2ae"},"id":"8fa0","environment":{"name":"Development","id":"7c07"},"data":{"test":false,"streamId":"a2ae","status":"idle","streamKey":"FP_TRgf4","srtSecret":"s3","srtPlaybackResponse":{"srtPlaybackStreamId":"p","srtPlaybackSecret":"ps"},"simulcastResponses":[{"simulcastId":"sim","streamKey":"sk2","isEnabled":true}],"createdAt":"2024-04-02T11:17:52.460858Z"},"createdAt":"2024-04-02T11:17:52.722812836Z","attempts":[],"accessor":null}`,
	`{"type":"video.live_stream.simulcast_target.broadcasting","id":"e2","workspace":{"id":"w","name":"W"},"data":{"simulcastId":"t1","livestreamId":"ls1","streamKey":null,"rtmpUrl":"rtmp://x"}}`,
	`{"type":"video.media.live_stream.ready","id":"e3","data":{"id":"m1","streamId":"ls1","test":true}}`,
	`{"id":"x","type":"video.live_stream.active","object":5,"environment":[],"createdAt":7,"status":{},"data":"s"}`,
	`{"id":12,"type":"t"}`,
	`{"id":"a","type":["t"]}`,
	`{"id":"a","id":"b","type":"t"}`,
	`{"id":null,"type":null}`,
	`[{"id":"a","type":"t"}]`,
	`{"id":"a","type":"t"} trailing`,
	`{"id":"a","type":"t","data":{"stream\u004bey":"k","SRT_SECRET":"s","srt-playback-secret":["a",{"b":1}],"streamKey" : {"nested":"v"}}}`,
	// A fully escaped credential key: 72 bytes raw, 17 unescaped.
	`{"\u0073\u0072\u0074\u0070\u006c\u0061\u0079\u0062\u0061\u0063\u006bSecret":"leak"}`,
	"{\"id\":\"a\",\"type\":\"t\",\"data\":{\"status\":\"\xff\xfe\",\"streamKey\":\"\xc3\x28\"}}",
	`{"id":"a","type":"t","data":{"n":1e999999,"m":-0.0e-7,"streamKey":1e5,"srtSecret":true,"srtSecert":false}}`,
	`{"id":"a","type":"t","data":{"deep":[[[[[[[[[[{"streamKey":"k"}]]]]]]]]]]}}`,
	"\t\r\n{\"id\" :\"a\" , \"type\"\t:\"t\" ,\"data\" : { \"streamKey\" :\n\"k\" } }\n",
}

// FuzzParse: Parse never panics, accepts only a JSON object with a usable id
// and type (and says which are probes), and reads the same id and type as
// encoding/json does.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := fastpix.Parse(body)
		again, err2 := fastpix.Parse(body)
		if !reflect.DeepEqual(ev, again) || (err == nil) != (err2 == nil) {
			t.Fatalf("Parse is not deterministic")
		}
		trimmed := bytes.TrimSpace(body)
		switch {
		case err == nil:
			if !json.Valid(trimmed) {
				t.Fatalf("accepted a body that is not JSON: %q", body)
			}
			var want struct {
				ID   any `json:"id"`
				Type any `json:"type"`
			}
			if e := json.Unmarshal(trimmed, &want); e != nil {
				t.Fatalf("accepted a body encoding/json refuses: %v", e)
			}
			if want.ID != ev.ID || want.Type != ev.Type {
				t.Fatalf("id/type %q/%q, encoding/json reads %v/%v", ev.ID, ev.Type, want.ID, want.Type)
			}
			if strings.TrimSpace(ev.ID) == "" || strings.TrimSpace(ev.Type) == "" {
				t.Fatalf("accepted a blank id or type: %q %q", ev.ID, ev.Type)
			}
		case errors.Is(err, fastpix.ErrProbe):
			if len(trimmed) == 0 {
				return
			}
			var m map[string]json.RawMessage
			if e := json.Unmarshal(trimmed, &m); e != nil {
				t.Fatalf("probe that is not a JSON object: %q", body)
			}
			if _, ok := m["id"]; ok {
				t.Fatalf("probe with an id: %q", body)
			}
			if _, ok := m["type"]; ok {
				t.Fatalf("probe with a type: %q", body)
			}
		case errors.Is(err, fastpix.ErrNotObject), errors.Is(err, fastpix.ErrMissingID), errors.Is(err, fastpix.ErrMissingType):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzVerify: a signature made by Sign always verifies, with white space
// around it too; a flipped bit or another secret never does; and whatever
// header verifies decodes to the HMAC of the payload.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("demo-secret"), []byte(`{"type":"video.media.ready","data":{"id":"abc-123"}}`), "SXTZYhjRshplUTerYmYX0D3d2LSTG3PWD2lY6XFLzd0=")
	f.Add([]byte("k"), []byte{}, "")
	f.Add([]byte("\x00\xff"), []byte("{}"), "sha256=abc")
	f.Add([]byte("key"), []byte("body"), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	for _, s := range fuzzSeeds[3:6] {
		f.Add([]byte("proof"), []byte(s), " \n")
	}
	f.Fuzz(func(t *testing.T, key, payload []byte, header string) {
		if len(key) == 0 {
			return
		}
		secret := base64.StdEncoding.EncodeToString(key)
		v, err := fastpix.NewVerifier(secret)
		if err != nil {
			t.Fatalf("NewVerifier(%q): %v", secret, err)
		}
		sig, err := fastpix.Sign(secret, payload)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(payload, sig); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
		if err := v.Verify(payload, " \t"+sig+"\r\n"); err != nil {
			t.Fatalf("own signature with white space refused: %v", err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(payload)
		want := mac.Sum(nil)
		flipped := append([]byte(nil), want...)
		flipped[len(payload)%len(flipped)] ^= 1 << (len(key) % 8)
		if v.Verify(payload, base64.StdEncoding.EncodeToString(flipped)) == nil {
			t.Fatal("a flipped bit verified")
		}
		// A fresh slice: the fuzzer's arguments may share one array, and
		// appending to key in place would change payload.
		other, _ := fastpix.NewVerifier(base64.StdEncoding.EncodeToString(append(append([]byte(nil), key...), 'x')))
		if other.Verify(payload, sig) == nil {
			t.Fatal("another secret verified")
		}
		if err := v.Verify(payload, header); err == nil {
			got, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
			if derr != nil || !hmac.Equal(got, want) {
				t.Fatalf("header %q verified but is not the HMAC", header)
			}
		} else if !errors.Is(err, fastpix.ErrMissingSignature) && !errors.Is(err, fastpix.ErrInvalidSignature) {
			t.Fatalf("unexpected error %v", err)
		}
		// Rotation: either of two secrets verifies.
		both, err := fastpix.NewVerifier(otherSecret(key) + "," + secret)
		if err != nil {
			t.Fatal(err)
		}
		if both.Verify(payload, sig) != nil {
			t.Fatal("second of two secrets refused")
		}
	})
}

func otherSecret(key []byte) string {
	return base64.StdEncoding.EncodeToString(append([]byte("rotated-"), key...))
}

// FuzzRedact: for any JSON document, the output is JSON; it reads the same
// as the input token for token, except that the value of every credential
// field (see IsCredentialField) is "[redacted]" or stays null; a document
// without one comes back byte for byte; and Redact is idempotent.
func FuzzRedact(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := fastpix.Redact(doc)
		if !json.Valid(doc) {
			if !errors.Is(err, fastpix.ErrNotJSON) {
				t.Fatalf("not JSON, but err = %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Redact: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("output is not JSON: %q", out)
		}
		want, found := redactedTokens(t, doc, true)
		got, _ := redactedTokens(t, out, false)
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("redacted %q\nto       %q\nwant tokens %v\ngot tokens  %v", doc, out, want, got)
		}
		if !found && !bytes.Equal(out, doc) {
			t.Fatalf("no credential field, yet changed: %q -> %q", doc, out)
		}
		again, err := fastpix.Redact(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q", out, again)
		}
	})
}

// redactedTokens lists doc's JSON tokens, keys marked; with redact, the
// value of a credential field is listed as Redact must leave it. found
// reports whether any credential field was met.
func redactedTokens(t *testing.T, doc []byte, redact bool) (toks []any, found bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var walk func()
	walk = func() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		d, ok := tok.(json.Delim)
		if !ok {
			toks = append(toks, tok)
			return
		}
		toks = append(toks, d.String())
		for dec.More() {
			if d == '{' {
				kt, err := dec.Token()
				if err != nil {
					t.Fatalf("key: %v", err)
				}
				key := kt.(string)
				toks = append(toks, "key:"+key)
				if fastpix.IsCredentialField(key) {
					found = true
					if redact {
						var raw json.RawMessage
						if err := dec.Decode(&raw); err != nil {
							t.Fatalf("value: %v", err)
						}
						if string(raw) == "null" {
							toks = append(toks, nil)
						} else {
							toks = append(toks, fastpix.Redacted)
						}
						continue
					}
				}
			}
			walk()
		}
		end, _ := dec.Token()
		toks = append(toks, end.(json.Delim).String())
	}
	walk()
	return toks, found
}
