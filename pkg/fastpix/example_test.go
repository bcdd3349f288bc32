package fastpix_test

import (
	"errors"
	"fmt"

	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// A receiver builds one Verifier at start-up, from the current signing
// secret and, during a rotation, the previous one.
func ExampleVerifier_Verify() {
	v, err := fastpix.NewVerifier("ZGVtby1zZWNyZXQ=")
	if err != nil {
		panic(err)
	}
	body := []byte(`{"type":"video.media.ready","data":{"id":"abc-123"}}`)

	fmt.Println(v.Verify(body, "SXTZYhjRshplUTerYmYX0D3d2LSTG3PWD2lY6XFLzd0="))
	err = v.Verify(body, "bm90IHRoZSBzaWduYXR1cmUgb2YgdGhpcyBib2R5IQ==")
	fmt.Println(errors.Is(err, fastpix.ErrInvalidSignature))
	// Output:
	// <nil>
	// true
}

func ExampleParse() {
	ev, err := fastpix.Parse([]byte(`{
		"type": "video.live_stream.simulcast_target.broadcasting",
		"id": "0b2f…",
		"workspace": {"id": "w1", "name": "Production"},
		"createdAt": "2026-11-26T18:04:05.123456789Z",
		"data": {"simulcastId": "t1", "livestreamId": "s1", "streamKey": "secret"}
	}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(ev.StreamID, ev.SimulcastID, ev.Workspace.Name, fastpix.Action(ev.Type))

	_, err = fastpix.Parse([]byte(`{}`))
	fmt.Println(errors.Is(err, fastpix.ErrProbe))
	// Output:
	// s1 t1 Production broadcasting
	// true
}

func ExampleRedact() {
	out, _ := fastpix.Redact([]byte(`{"data":{"streamId":"s1","streamKey":"FP_abc","srtSecret":null}}`))
	fmt.Println(string(out))
	// Output: {"data":{"streamId":"s1","streamKey":"[redacted]","srtSecret":null}}
}
