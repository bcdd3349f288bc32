package proof

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/infra/demo"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// leakFields are the payload fields FastPix documents as credentials
// (FASTPIX.md), the docs' misspelling included. The list is the test's own,
// not the redactor's, so a field the redactor forgot is still searched for.
var leakFields = map[string]bool{"streamKey": true, "srtSecret": true, "srtSecert": true, "srtPlaybackSecret": true}

// leakValues walks a JSON document and returns the value of every
// credential field at any depth.
func leakValues(doc []byte) ([]string, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && leakFields[k] && s != "" {
					out = append(out, s)
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out, nil
}

// stormSecretsOf returns every distinct credential value in bodies.
func stormSecretsOf(t *testing.T, bodies [][]byte) []string {
	t.Helper()
	set := map[string]bool{}
	for _, b := range bodies {
		vals, err := leakValues(b)
		if err != nil {
			t.Fatalf("sent body is not JSON: %v", err)
		}
		for _, v := range vals {
			set[v] = true
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// leakText flattens an item into text: every attribute name and value, at
// any depth, binary values included.
func leakText(av types.AttributeValue, b *strings.Builder) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		b.WriteString(v.Value)
	case *types.AttributeValueMemberN:
		b.WriteString(v.Value)
	case *types.AttributeValueMemberB:
		b.Write(v.Value)
	case *types.AttributeValueMemberSS:
		b.WriteString(strings.Join(v.Value, "\n"))
	case *types.AttributeValueMemberNS:
		b.WriteString(strings.Join(v.Value, "\n"))
	case *types.AttributeValueMemberBS:
		for _, x := range v.Value {
			b.Write(x)
			b.WriteByte('\n')
		}
	case *types.AttributeValueMemberL:
		for _, x := range v.Value {
			leakText(x, b)
			b.WriteByte('\n')
		}
	case *types.AttributeValueMemberM:
		leakItemText(v.Value, b)
	}
}

func leakItemText(item map[string]types.AttributeValue, b *strings.Builder) {
	for k, x := range item {
		b.WriteString(k)
		b.WriteByte('=')
		leakText(x, b)
		b.WriteByte('\n')
	}
}

// leakCheck searches everything the local stack wrote for every credential
// value and for the signing secret (as configured, and the key it decodes
// to): every attribute of every item of the events table and of the state
// table, every rendering of every alert and change-feed message SNS
// delivered, and the functions' logs and metrics. It fails when any is
// found, and when a place it searches is empty (a vacuous check).
func leakCheck(t *testing.T, name string, st *localstack.Stack, logs, metrics string, secrets []string) {
	t.Helper()
	if len(secrets) == 0 {
		t.Fatalf("%s: no credential in what was sent: the leak check would prove nothing", name)
	}
	key, err := base64.StdEncoding.DecodeString(st.Secret)
	if err != nil {
		t.Fatal(err)
	}
	needles := append(append([]string(nil), secrets...), st.Secret, string(key))
	places := map[string][]string{}
	ddb := testenv.DynamoDBAt(st.DynamoDBEndpoint)
	for _, table := range []struct{ what, name string }{{"events table", st.EventsTable}, {"state table", st.StateTable}} {
		p := dynamodb.NewScanPaginator(ddb, &dynamodb.ScanInput{TableName: aws.String(table.name)})
		for p.HasMorePages() {
			out, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range out.Items {
				var b strings.Builder
				leakItemText(it, &b)
				places[table.what] = append(places[table.what], b.String())
			}
		}
	}
	for _, a := range st.Inbox.Alerts() {
		places["SNS messages"] = append(places["SNS messages"], a.Subject+"\n"+a.Email+"\n"+a.SMS+"\n"+a.Default+"\n"+a.Chat+"\n"+fmt.Sprint(a.Attributes))
	}
	for _, c := range st.Feed.Changes() {
		places["SNS messages"] = append(places["SNS messages"], fmt.Sprintf("%+v", c))
	}
	places["logs"] = []string{logs}
	places["metrics"] = []string{metrics}

	found := 0
	var sizes []string
	for _, where := range []string{"events table", "state table", "SNS messages", "logs", "metrics"} {
		texts := places[where]
		bytes := 0
		for _, text := range texts {
			bytes += len(text)
			for _, n := range needles {
				if strings.Contains(text, n) {
					found++
					t.Errorf("%s: LEAK: %q found in the %s: %.300s", name, n, where, text)
				}
			}
		}
		if bytes == 0 {
			t.Errorf("%s: the %s is empty: nothing to search", name, where)
		}
		sizes = append(sizes, fmt.Sprintf("%s=%d/%dB", strings.ReplaceAll(where, " ", "-"), len(texts), bytes))
	}
	line := fmt.Sprintf("leak: %s: credentials=%d (+ signing secret) searched %s found=%d", name, len(secrets), strings.Join(sizes, " "), found)
	t.Log(line)
	fmt.Println(line)
}

// TestNoCredentialLeak runs the local stack's demo (the life of the
// original description's stream), both fixtures, and constructed events
// that carry every credential FastPix sends (streamKey, srtSecret and its
// misspelling srtSecert, srtPlaybackResponse.srtPlaybackSecret,
// simulcastResponses[].streamKey, a simulcast target's streamKey) through
// the whole local stack, as deployed, then searches everything written.
func TestNoCredentialLeak(t *testing.T) {
	demo, err := demo.Deliveries()
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, d := range demo {
		bodies = append(bodies, d.Body)
	}
	for _, f := range []string{"seed-live_stream.created-1.json", "seed-live_stream.created-2.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "pkg", "fastpix", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	const stream = "1eak0000-5eed-4c1e-9b1a-000000000001"
	at := time.Now().UTC().Add(-time.Hour)
	for i, typ := range []string{"video.live_stream.active", "video.live_stream.simulcast_target.broadcasting", "video.live_stream.disconnected"} {
		data := `{"streamId":"` + stream + `","status":"active","streamKey":"leakSK-c0ffee-1","srtSecret":"leakSRT-c0ffee-2","srtSecert":"leakSRT-typo-c0ffee-3",` +
			`"srtPlaybackResponse":{"srtPlaybackStreamId":"pb-1","srtPlaybackSecret":"leakPB-c0ffee-4"},` +
			`"simulcastResponses":[{"simulcastId":"leak-target-1","url":"rtmps://x.invalid/live","streamKey":"leakSIM-c0ffee-5","isEnabled":true}],"test":false}`
		if strings.Contains(typ, "simulcast") {
			data = `{"simulcastId":"leak-target-1","livestreamId":"` + stream + `","rtmpUrl":"rtmps://x.invalid/live","streamKey":"leakSIM-c0ffee-6","isEnabled":true}`
		}
		bodies = append(bodies, fmt.Appendf(nil, `{"type":%q,"id":"leak-%d","object":{"type":"live","id":%q},"workspace":{"id":"ws-leak","name":"Leak"},"data":%s,"createdAt":%q}`,
			typ, i, stream, data, at.Add(time.Duration(i)*time.Minute).Format(time.RFC3339Nano)))
	}
	secrets := stormSecretsOf(t, bodies)
	for _, want := range []string{"FP_TRgf4CswLZ9UcHH3yTxQ", "FP_pbeAbQF5LUxPAdUseA0u", "leakSRT-typo-c0ffee-3", "leakPB-c0ffee-4", "leakSIM-c0ffee-5", "leakSIM-c0ffee-6"} {
		if !slices.Contains(secrets, want) {
			t.Fatalf("credential %s not found in what is sent (found %v)", want, secrets)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logs, metrics := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	st, err := localstack.Start(ctx, localstack.Config{LogDir: t.TempDir(), Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: metrics, RetryDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	streams := map[string]int{}
	for _, b := range bodies {
		ev, err := fastpix.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if postSigned(t, ctx, st, b) == "accepted" && ev.StreamID != "" {
			streams[ev.StreamID]++
		}
	}
	_ = settledStreams(t, ctx, st, streams)
	if len(st.Inbox.Alerts()) == 0 {
		t.Error("no alert was sent: the SNS messages were not searched")
	}
	leakCheck(t, "demo+fixtures+constructed", st, logs.String(), metrics.String(), secrets)
}
