package templatetest

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/internal/emulator"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// What sam build does for each function: `make build-<LogicalId>` with
// ARTIFACTS_DIR set. The result must be a static linux/arm64 executable
// named bootstrap, what provided.al2023 on arm64 runs.
func TestMakeBuildProducesArm64Bootstraps(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed (sam build calls it): %v", err)
	}
	root := repoRoot(t)
	for _, id := range load(t).ResourcesOfType(samtemplate.TypeFunction) {
		t.Run(id, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", "-C", root, "build-"+id, "ARTIFACTS_DIR="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", id, err, out)
			}
			bin := filepath.Join(dir, "bootstrap")
			st, err := os.Stat(bin)
			if err != nil {
				t.Fatalf("no bootstrap in ARTIFACTS_DIR: %v", err)
			}
			if st.Mode()&0o111 == 0 {
				t.Errorf("bootstrap is not executable: %v", st.Mode())
			}
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("bootstrap is not an ELF file: %v", err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC {
				t.Errorf("bootstrap is %v %v %v, want EM_AARCH64 ELFCLASS64 ET_EXEC", f.Machine, f.Class, f.Type)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("bootstrap is dynamically linked; provided.al2023 needs CGO_ENABLED=0")
				}
			}
			if f.Section(".symtab") != nil {
				t.Error("bootstrap keeps its symbol table; build with -ldflags='-s -w'")
			}
			t.Logf("%s bootstrap: %d bytes (linux/arm64)", id, st.Size())
		})
	}
}

const demoSecret = "ZGVtby1zZWNyZXQ=" // base64("demo-secret"), FastPix's documented test vector

// The deployed webhook binary, not only its handler, works: built as
// make build builds it (host architecture here, so it can run), served by
// AWS's Lambda Runtime Interface Emulator, fed the API Gateway v2 event a
// signed FastPix delivery becomes, with DynamoDB Local as its table.
func TestWebhookBootstrapUnderRuntimeInterfaceEmulator(t *testing.T) {
	endpoint := testenv.DynamoDBEndpoint(t)
	db := testenv.DynamoDBAt(endpoint)
	table := testenv.CreateTable(t, db, "EventLogTable")
	url, logs := startWebhookUnderRIE(t, "EVENTS_TABLE="+table, "AWS_ENDPOINT_URL_DYNAMODB="+endpoint)

	first := readFixture(t, "seed-live_stream.created-1.json")
	second := readFixture(t, "seed-live_stream.created-2.json")
	cases := []struct {
		name       string
		body       []byte
		wantStatus int
		wantAnswer string
	}{
		{"validation probe (cold: the emulator starts the bootstrap now)", []byte("{}"), 200, "ok"},
		{"first delivery", first, 200, "accepted"},
		{"another event", second, 200, "accepted"},
		{"FastPix retries the first", first, 200, "duplicate"},
		{"wrong signature", first, 401, "rejected"},
		{"validation probe (warm)", []byte("{}"), 200, "ok"},
	}
	var took []time.Duration
	for _, c := range cases {
		sig, err := fastpix.Sign(demoSecret, c.body)
		if err != nil {
			t.Fatal(err)
		}
		if c.wantStatus == 401 {
			sig, _ = fastpix.Sign("b3RoZXItc2VjcmV0", c.body)
		}
		start := time.Now()
		resp := invoke(t, url, apiEvent(c.body, sig))
		took = append(took, time.Since(start))
		var answer struct{ Status, EventID string }
		if err := json.Unmarshal([]byte(resp.Body), &answer); err != nil {
			t.Fatalf("%s: answer %q: %v", c.name, resp.Body, err)
		}
		if resp.StatusCode != c.wantStatus || answer.Status != c.wantAnswer {
			t.Errorf("%s: %d %s, want %d %s", c.name, resp.StatusCode, resp.Body, c.wantStatus, c.wantAnswer)
		}
	}

	ev, err := fastpix.Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key: map[string]ddbtypes.AttributeValue{
			eventstore.KeyStreamID: &ddbtypes.AttributeValueMemberS{Value: ev.StreamID},
			eventstore.KeyEventID:  &ddbtypes.AttributeValueMemberS{Value: ev.ID},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item == nil {
		t.Fatalf("event %s is not in the table", ev.ID)
	}
	rec, err := eventstore.RecordFromItem(out.Item)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Type != "video.live_stream.created" || rec.StreamID != "a2ae2143-62a1-4eee-b888-4f1406148481" {
		t.Errorf("stored %s for stream %s", rec.Type, rec.StreamID)
	}
	if strings.Contains(rec.Payload, "FP_TRgf4CswLZ9UcHH3yTxQ") || !strings.Contains(rec.Payload, `"[redacted]"`) {
		t.Errorf("stored payload is not redacted: %s", rec.Payload)
	}
	scan, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), Select: ddbtypes.SelectCount})
	if err != nil {
		t.Fatal(err)
	}
	if scan.Count != 2 {
		t.Errorf("table holds %d items, want 2 (the retry and the forgery write nothing)", scan.Count)
	}

	// Reported, not asserted: the machine is shared. The emulator starts
	// the bootstrap on the first invoke, so the first probe (which touches
	// no table) carries the init and the last probe is the same work warm.
	t.Logf("webhook under RIE: cold probe %v, warm probe %v (init ≈ %v); deliveries %v", took[0], took[len(took)-1], took[0]-took[len(took)-1], took[1:len(took)-1])
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "Init Duration") || strings.Contains(line, "INIT_REPORT") {
			t.Logf("emulator: %s", strings.TrimSpace(line))
		}
	}
}

// startWebhookUnderRIE builds the webhook's bootstrap as make build does
// (for the host, so it can run), serves it with AWS's Lambda Runtime
// Interface Emulator given env (the function's configuration, beside the
// signing secret and local credentials), and returns the invocation URL and
// the emulator's output: the function's logs and the platform's lines.
func startWebhookUnderRIE(t *testing.T, env ...string) (string, *testenv.SyncBuffer) {
	t.Helper()
	cache, err := emulator.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	rie := filepath.Join(cache, "bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("%s: %v (run make deps)", rie, err)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "bootstrap"), "./functions/webhook")
	build.Dir = repoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build webhook: %v\n%s", err, out)
	}

	// Both of the emulator's ports are free ones: its Runtime API defaults
	// to 127.0.0.1:9001, which another emulator on the machine (a parallel
	// test, another checkout's run) may hold.
	port, runtimePort := freePort(t), freePort(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", runtimePort), "./bootstrap")
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"FASTPIX_WEBHOOK_SECRET=" + demoSecret,
		"AWS_REGION=" + emulator.Region,
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
		"AWS_EC2_METADATA_DISABLED=true",
	}, env...)
	logs := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", rie, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("emulator output:\n%s", logs.String())
		}
	})
	waitListening(t, port)
	return fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), logs
}

func apiEvent(body []byte, signature string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: "POST /webhooks/fastpix",
		RawPath:  "/webhooks/fastpix",
		Headers:  map[string]string{"content-type": "application/json", "fastpix-signature": signature, "user-agent": "FastPix-Webhook"},
		Body:     string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:  "POST /webhooks/fastpix",
			Stage:     "$default",
			RequestID: "rie-test",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: http.MethodPost, Path: "/webhooks/fastpix", Protocol: "HTTP/1.1", SourceIP: "127.0.0.1", UserAgent: "FastPix-Webhook",
			},
		},
	}
}

func invoke(t *testing.T, url string, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("emulator answered %d: %s", resp.StatusCode, raw)
	}
	var out events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(raw, &out); err != nil || out.StatusCode == 0 {
		t.Fatalf("not an API Gateway v2 response (%v): %s", err, raw)
	}
	return out
}

// readFixture reads one of FastPix's sample payloads, kept once, beside the
// parser that reads them (pkg/fastpix/testdata).
func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "pkg", "fastpix", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the emulator did not listen on 127.0.0.1:%d", port)
}
