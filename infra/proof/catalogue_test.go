package proof

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// badCase is one hostile or broken delivery: the request, the status the
// webhook must answer, and the event id it must store ("" for none).
type badCase struct {
	name   string
	req    func(t *testing.T) events.APIGatewayV2HTTPRequest
	status int
	stores string
	// check, when set, looks at the stored item.
	check func(t *testing.T, item map[string]types.AttributeValue)
}

var catT0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// ev is a well-formed live stream event with its own id.
func ev(id string) []byte { return liveEvent(id, "video.live_stream.active", "stream-"+id, catT0) }

// envelope is an event whose top-level fields are given as raw JSON, to put
// a wrong type in one of them.
func envelope(fields string) []byte {
	return []byte(`{` + fields + `,"data":{"streamId":"s-env","streamKey":"` + credentials[0] + `"}}`)
}

func signedReq(body []byte) func(t *testing.T) events.APIGatewayV2HTTPRequest {
	return func(t *testing.T) events.APIGatewayV2HTTPRequest { return post(body, sign(t, proofSecret, body)) }
}

func withSig(body []byte, sig func(t *testing.T, right string) string) func(t *testing.T) events.APIGatewayV2HTTPRequest {
	return func(t *testing.T) events.APIGatewayV2HTTPRequest {
		return post(body, sig(t, sign(t, proofSecret, body)))
	}
}

func rawMAC(t *testing.T, sig string) []byte {
	b, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// urlSafeBody is an event whose signature contains '+' or '/', so that its
// base64url spelling differs from the standard one.
func urlSafeBody(t testing.TB) []byte {
	for i := 0; ; i++ {
		b := ev(fmt.Sprintf("cat-b64url-%d", i))
		if strings.ContainsAny(sign(t, proofSecret, b), "+/") {
			return b
		}
	}
}

func withHeader(body []byte, name string) func(t *testing.T) events.APIGatewayV2HTTPRequest {
	return func(t *testing.T) events.APIGatewayV2HTTPRequest {
		req := post(body, "")
		req.Headers[name] = sign(t, proofSecret, body)
		return req
	}
}

func withMethod(m string) func(t *testing.T) events.APIGatewayV2HTTPRequest {
	return func(t *testing.T) events.APIGatewayV2HTTPRequest {
		body := ev("cat-method-" + m)
		req := post(body, sign(t, proofSecret, body))
		req.RequestContext.HTTP.Method = m
		return req
	}
}

// padded adds a field of n bytes to the event body.
func padded(body []byte, n int) []byte {
	return append(body[:len(body)-1:len(body)-1], []byte(`,"pad":"`+strings.Repeat("p", n)+`"}`)...)
}

// incompressible pads body like padded, with n random letters (a fixed
// seed): gzip keeps about 3/4 of them.
func incompressible(body []byte, n int) []byte {
	rng := rand.New(rand.NewPCG(6, 6))
	pad := make([]byte, n)
	for i := range pad {
		pad[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[rng.IntN(62)]
	}
	return append(body[:len(body)-1:len(body)-1], []byte(`,"pad":"`+string(pad)+`"}`)...)
}

func nested(depth int) []byte {
	return []byte(`{"id":"cat-nested-` + fmt.Sprint(depth) + `","type":"video.live_stream.updated","data":{"streamId":"s-nest","deep":` +
		strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}}`)
}

// occurredAtIsReceivedAt: an event without a readable createdAt is placed at
// its arrival (eventstore.NewRecord), so it still sorts into its stream.
func occurredAtIsReceivedAt(t *testing.T, item map[string]types.AttributeValue) {
	r, err := eventstore.RecordFromItem(item)
	if err != nil {
		t.Fatal(err)
	}
	if r.OccurredAt != r.ReceivedAt {
		t.Errorf("occurredAt %q, want receivedAt %q", r.OccurredAt, r.ReceivedAt)
	}
}

func replacedUTF8(t *testing.T, item map[string]types.AttributeValue) {
	p := item[eventstore.AttrPayload].(*types.AttributeValueMemberS).Value
	if !utf8.ValidString(p) || !strings.Contains(p, "\uFFFD") {
		t.Errorf("payload should be UTF-8 with U+FFFD in place of the bad bytes: %q", p)
	}
}

func lacks(attrs ...string) func(t *testing.T, item map[string]types.AttributeValue) {
	return func(t *testing.T, item map[string]types.AttributeValue) {
		for _, a := range attrs {
			v, ok := item[a]
			if a == eventstore.KeyStreamID {
				// The partition key is always there: an event about no
				// stream is in a log of its own.
				if s, _ := v.(*types.AttributeValueMemberS); s == nil || !strings.HasPrefix(s.Value, eventstore.NoStreamPrefix) {
					t.Errorf("attribute %s = %v, want a log of no stream (the field had the wrong type)", a, v)
				}
				continue
			}
			if ok {
				t.Errorf("attribute %s = %v, want absent (the field had the wrong type)", a, v)
			}
		}
	}
}

func hasS(attr, want string) func(t *testing.T, item map[string]types.AttributeValue) {
	return func(t *testing.T, item map[string]types.AttributeValue) {
		v, _ := item[attr].(*types.AttributeValueMemberS)
		if v == nil || v.Value != want {
			t.Errorf("attribute %s = %v, want %q", attr, item[attr], want)
		}
	}
}

// catalogue lists the hostile and broken deliveries. Its order matters in
// one place only: the duplicate follows the control event.
func catalogue(t *testing.T) []badCase {
	control := ev("cat-valid")
	b64url := urlSafeBody(t)
	reserialised := func() []byte {
		var m map[string]any
		if err := json.Unmarshal(control, &m); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(m) // keys sorted, spaces dropped: same event, other bytes
		return b
	}()
	huge := padded(ev("cat-huge-body"), 6<<20)
	invalidUTF8 := []byte(strings.Replace(string(ev("cat-utf8")), `"status": "active"`, "\"status\": \"act\xff\xfeive\"", 1))
	invalidUTF8Wire := []byte(strings.Replace(string(ev("cat-utf8-b64")), `"status": "active"`, "\"status\": \"\xc3\x28\"", 1))
	longID := strings.Repeat("L", 10<<10)

	return []badCase{
		// --- the control, and a duplicate of it ---
		{name: "control: valid signed event", req: signedReq(control), status: 200, stores: "cat-valid",
			check: func(t *testing.T, item map[string]types.AttributeValue) {
				hasS(eventstore.AttrStreamID, "stream-cat-valid")(t, item)
				hasS(eventstore.AttrOccurredAt, eventstore.FormatTime(catT0))(t, item)
			}},
		{name: "duplicate of the control: answered 200, nothing written", req: signedReq(control), status: 200},

		// --- signatures: missing, empty, forged, truncated, re-encoded ---
		{name: "no signature header", req: func(t *testing.T) events.APIGatewayV2HTTPRequest { return post(ev("cat-nosig"), "") }, status: 401},
		{name: "empty signature value", req: func(t *testing.T) events.APIGatewayV2HTTPRequest {
			req := post(ev("cat-emptysig"), "")
			req.Headers["fastpix-signature"] = ""
			return req
		}, status: 401},
		{name: "white-space signature", req: withSig(ev("cat-spacesig"), func(*testing.T, string) string { return " \t " }), status: 401},
		{name: "forged: random 32 bytes in base64", req: withSig(ev("cat-forged"), func(*testing.T, string) string {
			return base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
		}), status: 401},
		{name: "one character of the right signature changed", req: withSig(ev("cat-flip"), func(_ *testing.T, s string) string {
			c := byte('A')
			if s[5] == 'A' {
				c = 'B'
			}
			return s[:5] + string(c) + s[6:]
		}), status: 401},
		// FastPix sends padded standard base64; an unpadded value is not what
		// it sends and is refused like any other wrong value.
		{name: "truncated signature: padding dropped", req: withSig(ev("cat-trunc43"), func(_ *testing.T, s string) string { return strings.TrimRight(s, "=") }), status: 401},
		{name: "truncated signature: first 20 characters", req: withSig(ev("cat-trunc20"), func(_ *testing.T, s string) string { return s[:20] }), status: 401},
		{name: "right MAC, hex-encoded", req: withSig(ev("cat-hex"), func(t *testing.T, s string) string { return hex.EncodeToString(rawMAC(t, s)) }), status: 401},
		{name: "right MAC, base64url-encoded", req: withSig(b64url, func(t *testing.T, s string) string { return base64.URLEncoding.EncodeToString(rawMAC(t, s)) }), status: 401},
		{name: "right MAC with a sha256= prefix", req: withSig(ev("cat-prefix"), func(_ *testing.T, s string) string { return "sha256=" + s }), status: 401},
		{name: "right MAC in a t=,v1= header", req: withSig(ev("cat-v1"), func(_ *testing.T, s string) string { return "t=1700000000,v1=" + s }), status: 401},
		// API Gateway joins repeated headers with a comma.
		{name: "right and forged signature comma-joined", req: withSig(ev("cat-joined"), func(_ *testing.T, s string) string { return s + "," + s }), status: 401},
		{name: "signed with the wrong secret", req: func(t *testing.T) events.APIGatewayV2HTTPRequest {
			b := ev("cat-wrongsecret")
			return post(b, sign(t, otherSecret, b))
		}, status: 401},
		{name: "signature of another event", req: func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return post(ev("cat-replayed-sig"), sign(t, proofSecret, ev("cat-other")))
		}, status: 401},
		{name: "signature over the re-serialised body, original body sent", req: func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return post(control, sign(t, proofSecret, reserialised))
		}, status: 401},
		{name: "re-serialised body sent, signature of the original", req: func(t *testing.T) events.APIGatewayV2HTTPRequest {
			return post(reserialised, sign(t, proofSecret, control))
		}, status: 401},
		{name: "body truncated after signing", req: func(t *testing.T) events.APIGatewayV2HTTPRequest {
			b := ev("cat-cut")
			return post(b[:len(b)/2], sign(t, proofSecret, b))
		}, status: 401},

		// --- signed, but broken bodies: 400, a retry will not help ---
		{name: "truncated body, signed as truncated", req: signedReq(ev("cat-cut-signed")[:300]), status: 400},
		{name: "signed JSON array", req: signedReq([]byte(`[{"id":"cat-array","type":"video.live_stream.active"}]`)), status: 400},
		{name: "signed JSON string", req: signedReq([]byte(`"cat-string"`)), status: 400},
		{name: "signed null", req: signedReq([]byte(`null`)), status: 400},
		{name: "unsigned JSON array: the signature is checked first", req: func(*testing.T) events.APIGatewayV2HTTPRequest { return post([]byte(`[1]`), "") }, status: 401},
		{name: "signed object with trailing garbage", req: signedReq(append(ev("cat-trailing"), " xyz"...)), status: 400},
		{name: "signed: two objects back to back", req: signedReq(append(ev("cat-two-a"), ev("cat-two-b")...)), status: 400},
		// A byte order mark is not JSON white space; FastPix does not send one.
		{name: "signed body behind a UTF-8 byte order mark", req: signedReq(append([]byte("\xef\xbb\xbf"), ev("cat-bom")...)), status: 400},
		{name: "signed, nested 20,000 deep (beyond encoding/json's 10,000)", req: signedReq(nested(20000)), status: 400},
		{name: "signed, nested 500 deep: legal JSON, stored", req: signedReq(nested(500)), status: 200, stores: "cat-nested-500"},
		{name: "signed, huge numbers in data: stored as sent", req: signedReq([]byte(`{"id":"cat-hugenum","type":"video.live_stream.updated","data":{"streamId":"s-num","reconnectWindow":1e999999,"maxDuration":123456789012345678901234567890123456789,"x":-0.0000000000000000000000000001e-400}}`)), status: 200, stores: "cat-hugenum",
			check: func(t *testing.T, item map[string]types.AttributeValue) {
				p := item[eventstore.AttrPayload].(*types.AttributeValueMemberS).Value
				if !strings.Contains(p, "1e999999") || !strings.Contains(p, "123456789012345678901234567890123456789") {
					t.Errorf("payload numbers not kept as sent: %s", p)
				}
			}},
		// encoding/json accepts bytes that are not UTF-8 inside strings and
		// Redact keeps them; the SDK then writes each as U+FFFD (DynamoDB
		// strings are UTF-8), so the stored payload is not byte for byte the
		// signed one there. Storing it beats refusing a signed event.
		{name: "signed, invalid UTF-8 inside a string", req: signedReq(invalidUTF8), status: 200, stores: "cat-utf8", check: replacedUTF8},
		{name: "invalid UTF-8 body, base64 as API Gateway passes it", req: func(t *testing.T) events.APIGatewayV2HTTPRequest {
			req := post(nil, sign(t, proofSecret, invalidUTF8Wire))
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(invalidUTF8Wire), true
			return req
		}, status: 200, stores: "cat-utf8-b64", check: replacedUTF8},

		// --- id and type: required strings; the wrong type is 400 ---
		{name: "id of 10 KB", req: signedReq(ev(longID)), status: 400},
		{name: "data.streamId of 10 KB (the byStream index key)", req: signedReq(liveEvent("cat-longstream", "video.live_stream.active", longID, catT0)), status: 400},
		{name: "signed 500 KB event: larger than a text item, stored gzipped", req: signedReq(padded(ev("cat-500k"), 500<<10)), status: 200, stores: "cat-500k"},
		{name: "signed 900 KB event of random text: too large even gzipped", req: signedReq(incompressible(ev("cat-900k"), 900<<10)), status: 400},
		{name: "signed 300 KB event: fits in an item, stored", req: signedReq(padded(ev("cat-300k"), 300<<10)), status: 200, stores: "cat-300k"},
		{name: "id is a number", req: signedReq(envelope(`"id":12345,"type":"video.live_stream.active"`)), status: 400},
		{name: "id is a huge number", req: signedReq(envelope(`"id":1e400,"type":"video.live_stream.active"`)), status: 400},
		{name: "id is an object", req: signedReq(envelope(`"id":{"id":"cat-x"},"type":"video.live_stream.active"`)), status: 400},
		{name: "id is null", req: signedReq(envelope(`"id":null,"type":"video.live_stream.active"`)), status: 400},
		{name: "id is empty", req: signedReq(envelope(`"id":"","type":"video.live_stream.active"`)), status: 400},
		{name: "id is blank", req: signedReq(envelope(`"id":"  ","type":"video.live_stream.active"`)), status: 400},
		{name: "type is a number", req: signedReq(envelope(`"id":"cat-typenum","type":7`)), status: 400},
		{name: "type is an array", req: signedReq(envelope(`"id":"cat-typearr","type":["video.live_stream.active"]`)), status: 400},
		{name: "type missing", req: signedReq(envelope(`"id":"cat-notype"`)), status: 400},

		// --- optional fields of the wrong type: the parser treats them as
		// absent and the event is stored, because an odd payload that is
		// signed by FastPix is still an event we must not lose ---
		{name: "object is a number", req: signedReq(envelope(`"id":"cat-obj5","type":"video.live_stream.active","object":5`)), status: 200, stores: "cat-obj5",
			check: lacks(eventstore.AttrObjectID, eventstore.AttrObjectType)},
		{name: "object is a string", req: signedReq(envelope(`"id":"cat-objstr","type":"video.live_stream.active","object":"live"`)), status: 200, stores: "cat-objstr",
			check: lacks(eventstore.AttrObjectID, eventstore.AttrObjectType)},
		{name: "object.id is a number", req: signedReq(envelope(`"id":"cat-objid","type":"video.live_stream.active","object":{"type":"live","id":9}`)), status: 200, stores: "cat-objid",
			check: func(t *testing.T, item map[string]types.AttributeValue) {
				lacks(eventstore.AttrObjectID)(t, item)
				hasS(eventstore.AttrObjectType, "live")(t, item)
			}},
		{name: "environment is an array", req: signedReq(envelope(`"id":"cat-envarr","type":"video.live_stream.active","environment":[]`)), status: 200, stores: "cat-envarr",
			check: lacks(eventstore.AttrWorkspaceID, eventstore.AttrWorkspaceName)},
		{name: "workspace is a boolean, environment is good", req: signedReq(envelope(`"id":"cat-wsbool","type":"video.live_stream.active","workspace":true,"environment":{"id":"env-1","name":"Dev"}`)), status: 200, stores: "cat-wsbool",
			check: hasS(eventstore.AttrWorkspaceID, "env-1")},
		{name: "createdAt is a number", req: signedReq(envelope(`"id":"cat-ts-num","type":"video.live_stream.active","createdAt":1700000000`)), status: 200, stores: "cat-ts-num",
			check: occurredAtIsReceivedAt},
		{name: "createdAt is not RFC 3339", req: signedReq(envelope(`"id":"cat-ts-text","type":"video.live_stream.active","createdAt":"yesterday"`)), status: 200, stores: "cat-ts-text",
			check: occurredAtIsReceivedAt},
		{name: "status is an object", req: signedReq(envelope(`"id":"cat-status","type":"video.live_stream.active","status":{}`)), status: 200, stores: "cat-status"},
		{name: "data is a string: stream from object.id", req: signedReq([]byte(`{"id":"cat-datastr","type":"video.live_stream.active","object":{"type":"live","id":"s-obj"},"data":"streamKey"}`)), status: 200, stores: "cat-datastr",
			check: hasS(eventstore.AttrStreamID, "s-obj")},
		{name: "data is an array", req: signedReq([]byte(`{"id":"cat-dataarr","type":"video.live_stream.active","data":[{"streamKey":"` + credentials[0] + `"}]}`)), status: 200, stores: "cat-dataarr",
			check: lacks(eventstore.AttrStreamID)},
		{name: "data.streamId is a number", req: signedReq([]byte(`{"id":"cat-sidnum","type":"video.live_stream.active","data":{"streamId":42}}`)), status: 200, stores: "cat-sidnum",
			check: lacks(eventstore.AttrStreamID)},
		// encoding/json keeps the last of repeated keys; the signature covers
		// the bytes, so only the holder of the secret can send this.
		{name: "id given twice: the last one counts", req: signedReq([]byte(`{"id":"cat-dup-first","type":"video.live_stream.active","id":"cat-dup-second"}`)), status: 200, stores: "cat-dup-second"},
		{name: "credential behind an escaped key is redacted", req: signedReq([]byte(`{"id":"cat-escaped","type":"video.live_stream.active","data":{"stream\u004bey":"` + credentials[0] + `","SRT_SECRET":"` + credentials[1] + `"}}`)), status: 200, stores: "cat-escaped"},
		{name: "leading white space before the object", req: signedReq(append([]byte("\r\n\t "), ev("cat-leadingspace")...)), status: 200, stores: "cat-leadingspace"},

		// --- size, encoding and method ---
		{name: "6 MB signed body", req: signedReq(huge), status: 413},
		{name: "6 MB body, base64-flagged", req: func(t *testing.T) events.APIGatewayV2HTTPRequest {
			req := post(nil, sign(t, proofSecret, huge))
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(huge), true
			return req
		}, status: 413},
		{name: "base64 flag with a body that is not base64", req: func(t *testing.T) events.APIGatewayV2HTTPRequest {
			b := ev("cat-notb64")
			req := post(b, sign(t, proofSecret, b))
			req.IsBase64Encoded = true
			return req
		}, status: 400},
		{name: "base64 flag with a base64 body: decoded, then verified", req: func(t *testing.T) events.APIGatewayV2HTTPRequest {
			b := ev("cat-b64")
			req := post(nil, sign(t, proofSecret, b))
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(b), true
			return req
		}, status: 200, stores: "cat-b64"},
		{name: "GET", req: withMethod(http.MethodGet), status: 405},
		{name: "PUT", req: withMethod(http.MethodPut), status: 405},
		{name: "HEAD", req: withMethod(http.MethodHead), status: 405},
		{name: "header spelt FastPix-Signature", req: withHeader(ev("cat-hdr-canonical"), "FastPix-Signature"), status: 200, stores: "cat-hdr-canonical"},
		{name: "header spelt FASTPIX-SIGNATURE", req: withHeader(ev("cat-hdr-upper"), "FASTPIX-SIGNATURE"), status: 200, stores: "cat-hdr-upper"},
		{name: "header spelt fastPix-signaTure", req: withHeader(ev("cat-hdr-mixed"), "fastPix-signaTure"), status: 200, stores: "cat-hdr-mixed"},
		{name: "signature in a similarly named header", req: withHeader(ev("cat-hdr-other"), "x-fastpix-signature"), status: 401},

		// --- validation probes: answered 200, never stored ---
		{name: "probe: empty body, unsigned", req: func(*testing.T) events.APIGatewayV2HTTPRequest { return post(nil, "") }, status: 200},
		{name: "probe: {} unsigned", req: func(*testing.T) events.APIGatewayV2HTTPRequest { return post([]byte(`{}`), "") }, status: 200},
		{name: "probe-shaped body with credentials and a forged signature: not stored", req: func(*testing.T) events.APIGatewayV2HTTPRequest {
			return post([]byte(`{"data":{"streamKey":"`+credentials[0]+`"}}`), "forged")
		}, status: 200},
	}
}

// TestBadInputCatalogue sends every catalogued delivery through the real
// handler into DynamoDB Local and checks each answer, then that the table
// holds exactly the events expected, and that no credential reached the
// table or the log.
func TestBadInputCatalogue(t *testing.T) {
	r := newRig(t, testenv.DynamoDB(t), 10*time.Second)
	cases := catalogue(t)
	want := map[string]badCase{}
	byStatus := map[int]int{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := r.hook.Handle(ctx, c.req(t))
			if err != nil {
				t.Fatalf("Handle returned an error (Lambda would answer 502): %v", err)
			}
			byStatus[resp.StatusCode]++
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d; body %s", resp.StatusCode, c.status, trimID(resp.Body))
			}
			a := answer(t, resp)
			if resp.StatusCode >= 400 && a["error"] == "" {
				t.Errorf("refusal without a readable error: %s", resp.Body)
			}
			if resp.StatusCode == http.StatusMethodNotAllowed && resp.Headers["Allow"] != http.MethodPost {
				t.Errorf("405 without Allow: POST: %v", resp.Headers)
			}
		})
		if c.stores != "" {
			want[c.stores] = c
		}
	}

	items := r.items(t)
	var got, missing []string
	for id, item := range items {
		got = append(got, id)
		c, ok := want[id]
		if !ok {
			t.Errorf("stored %q, which no case should store", trimID(id))
			continue
		}
		if c.check != nil {
			t.Run("stored/"+c.name, func(t *testing.T) { c.check(t, item) })
		}
		noCredentials(t, "stored item "+trimID(id), fmt.Sprint(item))
	}
	for id := range want {
		if _, ok := items[id]; !ok {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("not stored: %v", missing)
	}
	noCredentials(t, "the log", r.logs.String())
	t.Logf("catalogue: %d deliveries, answers by status %v, %d items in the table (want %d)", len(cases), byStatus, len(got), len(want))
	fmt.Printf("bad input catalogue: %d deliveries; answers by status %v; stored %d, expected %d; credentials leaked: 0 checked in table and log\n",
		len(cases), byStatus, len(got), len(want))
}

func trimID(id string) string {
	if len(id) > 40 {
		return id[:40] + fmt.Sprintf("…(%d bytes)", len(id))
	}
	return id
}
