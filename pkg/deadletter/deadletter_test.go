package deadletter_test

import (
	"encoding/json"
	"testing"

	"github.com/streamhook/fastpix-receiver/pkg/deadletter"
)

func TestEncodeDecode(t *testing.T) {
	m := deadletter.Message{StreamID: "s", Reason: "AuthorizationError: not authorized", Effect: json.RawMessage(`{"topic":"arn"}`)}
	text, err := deadletter.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	back, ok := deadletter.Decode(text)
	if !ok || back.StreamID != "s" || back.Reason != m.Reason || string(back.Effect) != `{"topic":"arn"}` {
		t.Errorf("round trip: %+v, %v", back, ok)
	}
	// A Lambda failure record is not one.
	if _, ok := deadletter.Decode(`{"requestContext":{"condition":"RetryAttemptsExhausted"},"DDBStreamBatchInfo":{}}`); ok {
		t.Error("a Lambda failure record was taken for an undeliverable publish")
	}
	if _, ok := deadletter.Decode(`not json`); ok {
		t.Error("garbage was taken for an undeliverable publish")
	}
}
