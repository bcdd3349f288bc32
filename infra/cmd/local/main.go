// Command local runs the whole system on this machine (`make run`), or
// sends the demo to a running one (`make demo`, the -demo flag).
//
// Environment: PORT (HTTP API, default 3000), DYNAMODB_PORT (8000),
// SNS_PORT (4100), FASTPIX_WEBHOOK_SECRET (the signing secret; a fixed
// development secret when unset), and the alert rules' settings over the
// template's defaults: DISCONNECT_GRACE_SECONDS, FLAP_THRESHOLD,
// FLAP_WINDOW_MINUTES (the demo reads them too, to know how long to wait).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/board"
	"github.com/streamhook/fastpix-receiver/infra/demo"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/internal/emulator"
	"github.com/streamhook/fastpix-receiver/internal/repo"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/secrets"
)

func main() {
	demo := flag.Bool("demo", false, "send the demo to a running local stack instead of starting one")
	url := flag.String("url", "", "the running stack's HTTP API for -demo (default http://127.0.0.1:$PORT)")
	flag.Parse()

	httpPort, err1 := envPort("PORT", 3000)
	ddbPort, err2 := envPort("DYNAMODB_PORT", 8000)
	snsPort, err3 := envPort("SNS_PORT", 4100)
	if err := errors.Join(err1, err2, err3); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	secret := os.Getenv(secrets.EnvSecret)
	// The SDK sends a client to the global AWS_ENDPOINT_URL, when it is set
	// without a service's own variable, before it looks at the emulators'
	// endpoints the stack configures: the local system must never reach
	// past the emulators, so the global override is dropped here.
	if v, ok := os.LookupEnv("AWS_ENDPOINT_URL"); ok {
		fmt.Fprintf(os.Stderr, "ignoring AWS_ENDPOINT_URL=%s: the local stack talks only to its emulators\n", v)
		os.Unsetenv("AWS_ENDPOINT_URL")
	}
	rules := map[string]string{}
	for _, name := range localstack.RulesVariables {
		if v := os.Getenv(name); v != "" {
			rules[name] = v
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *demo {
		if *url == "" {
			*url = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
		}
		if secret == "" {
			secret = localstack.DevSecret
		}
		if err := runDemo(ctx, *url, secret, rules); err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, httpPort, ddbPort, snsPort, secret, rules); err != nil {
		fmt.Fprintln(os.Stderr, "local stack:", err)
		os.Exit(1)
	}
}

func envPort(name string, def int) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%s must be a port number, not %q", name, s)
	}
	return n, nil
}

func run(ctx context.Context, httpPort, ddbPort, snsPort int, secret string, rules map[string]string) error {
	begin := time.Now()
	root, err := repo.Root()
	if err != nil {
		return err
	}
	// The emulators' logs (and DynamoDB Local's metadata file) stay out of
	// the source tree.
	runDir := filepath.Join(root, ".cache", "local-run")
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	logDir := filepath.Join(runDir, "logs")
	// The functions' metrics, the EMF lines Lambda would ship to CloudWatch.
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	metricsLog, err := os.Create(filepath.Join(logDir, "metrics.log"))
	if err != nil {
		return err
	}
	defer metricsLog.Close()
	// The change feed, one line per status change: in its own file, since
	// on the terminal it would drown the alerts.
	changesPath := filepath.Join(logDir, "changes.log")
	changesLog, err := os.Create(changesPath)
	if err != nil {
		return err
	}
	defer changesLog.Close()
	// make demo runs in another terminal, with another environment: it
	// reads the rules' settings this stack runs with from here.
	rulesPath := filepath.Join(runDir, rulesFile)
	if text, err := json.Marshal(rules); err == nil {
		if err := os.WriteFile(rulesPath, text, 0o644); err != nil {
			return err
		}
		defer os.Remove(rulesPath)
	}
	fmt.Println("Starting DynamoDB Local, the SNS emulator, the functions and the alert inbox …")
	st, err := localstack.Start(ctx, localstack.Config{
		DynamoDBPort: ddbPort, SNSPort: snsPort, HTTPPort: httpPort,
		Secret:       secret,
		TemplatePath: filepath.Join(root, "template.yaml"),
		LogDir:       logDir,
		Logger:       log,
		Metrics:      metricsLog,
		Inbox:        os.Stdout,
		Changes:      changesLog,
		Rules:        rules,
	})
	if err != nil {
		if errors.Is(err, emulator.ErrNotInstalled) {
			err = fmt.Errorf("%w\nrun `make deps` (or `make run`, which runs it) first", err)
		}
		return err
	}
	defer st.Stop()
	// make demo subscribes people to this stack's topics: it reads where
	// they are from here.
	routingPath := filepath.Join(runDir, routingFile)
	if text, err := json.Marshal(st.RoutingInfo()); err == nil {
		if err := os.WriteFile(routingPath, text, 0o644); err != nil {
			return err
		}
		defer os.Remove(routingPath)
	}
	banner(os.Stdout, st, secret == "", changesPath, time.Since(begin))

	select {
	case <-ctx.Done():
		fmt.Println("\nStopping …")
		st.Stop()
		fmt.Println("Stopped: DynamoDB Local and the SNS emulator are gone, and so is every event (the local tables live in memory).")
		return nil
	case err := <-st.Err():
		return err
	}
}

// tryBody is the event of the banner's curl line: one line, so it can be
// pasted; its streamKey is made up and shows up redacted in the query API.
const tryBody = `{"type":"video.live_stream.created","id":"try-0001","object":{"type":"live","id":"try-stream"},"createdAt":"2026-01-01T12:00:00Z","data":{"streamId":"try-stream","status":"idle","streamKey":"made-up-key"}}`

func banner(w io.Writer, st *localstack.Stack, devSecret bool, changesPath string, took time.Duration) {
	sig, _ := fastpix.Sign(st.Secret, []byte(tryBody))
	topics := make([]string, 0, len(st.Topics))
	for id := range st.Topics {
		topics = append(topics, id)
	}
	sort.Strings(topics)
	fmt.Fprintf(w, "\nFastPix receiver: the local stack is up (in %.1f s)\n\n", took.Seconds())
	fmt.Fprintf(w, "  HTTP API        %s\n", st.URL)
	for _, r := range st.HTTPRoutes {
		fmt.Fprintf(w, "                    %s\n", r)
	}
	fmt.Fprintf(w, "  DynamoDB Local  %s   tables %s (index byTime), %s (index byStatus); in memory\n", st.DynamoDBEndpoint, st.EventsTable, st.StateTable)
	fmt.Fprintf(w, "  SNS (goaws)     %s   topics %s\n", st.SNSEndpoint, strings.Join(topics, ", "))
	queues := make([]string, 0, len(st.Queues))
	for id := range st.Queues {
		queues = append(queues, id)
	}
	sort.Strings(queues)
	for _, id := range queues {
		what := "SQS query protocol only"
		switch id {
		case st.DeadLetterQueue:
			what = "the notifier's batches given up on; make ctl-local ARGS=redrive"
		case st.CheckQueue:
			what = "the held disconnects' checks, each delivered to the notifier when its grace is over"
		case st.CheckDeadLetterQueue:
			what = "the checks' dead-letter queue; unused here: goaws delivers a failing check again and again"
		}
		fmt.Fprintf(w, "  SQS (goaws)     %s   (%s)\n", st.Queues[id], what)
	}
	fmt.Fprintf(w, "  Alert inbox     %s   subscribed to the alert topics; alerts are printed here\n", st.Inbox.URL)
	if st.Feed != nil {
		fmt.Fprintf(w, "  Change feed     %s   subscribed to %s; one line per status change in\n", st.Feed.URL, st.ChangesTopic[strings.LastIndex(st.ChangesTopic, ":")+1:])
		fmt.Fprintf(w, "                    %s   (watch it: tail -f that file)\n", changesPath)
	}
	if st.Feed != nil {
		fmt.Fprintf(w, "  Live board      http://%s   after: make ctl-local ARGS=board   (every stream and target, as it changes)\n", board.DefaultAddr)
	}
	fmt.Fprintf(w, "  Alert routes    %s\n", strings.Join(st.Routes.Types(), ", "))
	fmt.Fprintf(w, "  Alert rules     disconnects held %s; %d brief drops within %s make one unstable alert\n"+
		"                  (DISCONNECT_GRACE_SECONDS, FLAP_THRESHOLD, FLAP_WINDOW_MINUTES over the template's defaults)\n",
		alerts.FormatDuration(st.Rules.Grace), st.Rules.FlapThreshold, alerts.FormatDuration(st.Rules.FlapWindow))
	if devSecret {
		fmt.Fprintf(w, "  Signing secret  %s\n                  (a development secret, not a credential; set %s to use yours)\n", st.Secret, secrets.EnvSecret)
	} else {
		fmt.Fprintf(w, "  Signing secret  from %s\n", secrets.EnvSecret)
	}
	for _, warn := range st.Warnings {
		fmt.Fprintf(w, "  note: %s\n", warn)
	}
	fmt.Fprintf(w, "\nTry it:\n")
	fmt.Fprintf(w, "  curl -sS %s%s -H 'FastPix-Signature: %s' --data-binary '%s'\n", st.URL, localstack.WebhookPath, sig, tryBody)
	fmt.Fprintf(w, "  curl -sS %s/streams/try-stream/events\n", st.URL)
	fmt.Fprintf(w, "  curl -sS '%s/streams?status=idle,active'          # the fleet by status\n", st.URL)
	ports := portsPrefix()
	fmt.Fprintf(w, "  %smake ctl-local ARGS='status -watch'   # the same as a table, redrawn every 5 s\n", ports)
	fmt.Fprintf(w, "  %smake ctl-local ARGS=board   # the same live in a browser at http://%s\n", ports, board.DefaultAddr)
	fmt.Fprintf(w, "  %smake demo      # a stream's life, the alert rules on the clock, who gets which alert\n", ports)
	fmt.Fprintf(w, "  aws dynamodb query --endpoint-url %s --table-name %s --index-name byTime \\\n", st.DynamoDBEndpoint, st.EventsTable)
	fmt.Fprintf(w, "    --key-condition-expression 'streamId = :s' --expression-attribute-values '{\":s\":{\"S\":\"try-stream\"}}'\n")
	fmt.Fprintf(w, "\nCtrl-C stops everything.\n\n")
}

// rulesFile, in .cache/local-run, holds the alert rules' settings a running
// make run took from its environment.
const rulesFile = "rules.json"

// routingFile, in .cache/local-run, holds a running stack's alert routes,
// SNS endpoint and state table (localstack.RoutingInfo), for make demo's
// subscriptions.
const routingFile = "routing.json"

func runDemo(ctx context.Context, url, secret string, rules map[string]string) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	// The running stack's settings, unless this command's own environment
	// names others.
	if text, err := os.ReadFile(filepath.Join(root, ".cache", "local-run", rulesFile)); err == nil {
		running := map[string]string{}
		if json.Unmarshal(text, &running) == nil {
			for k, v := range running {
				if rules[k] == "" {
					rules[k] = v
				}
			}
		}
	}
	settings, err := localstack.RulesSettings(filepath.Join(root, "template.yaml"), rules)
	if err != nil {
		return err
	}
	fmt.Printf("make demo: %d parts, sent to %s as FastPix would, signed; the alerts appear in `make run`'s terminal\n", demo.Parts, url)
	sent, err := demo.Send(ctx, url+localstack.WebhookPath, secret, os.Stdout)
	if err != nil {
		return fmt.Errorf("%w\n(is `make run` running?)", err)
	}
	for _, s := range sent {
		if s.Status == http.StatusUnauthorized {
			return fmt.Errorf("the stack refused the signature: run `make demo` with the same %s as `make run`", secrets.EnvSecret)
		}
	}
	// The notifier works from the table's stream, a moment behind the
	// webhook: wait (bounded) until the stream's state has caught up.
	client := &http.Client{Timeout: 5 * time.Second}
	var state map[string]any
	deadline := time.Now().Add(15 * time.Second)
	for {
		state = nil
		if err := getJSON(ctx, client, url+"/streams/"+demo.StreamID, &state); err == nil && state["lastEventType"] == "video.live_stream.idle" {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var page struct {
		Events []struct {
			EventID, Type, OccurredAt, SimulcastID string
		} `json:"events"`
	}
	if err := getJSON(ctx, client, url+"/streams/"+demo.StreamID+"/events?order=asc&limit=100", &page); err != nil {
		return err
	}
	fmt.Printf("\nThe stream's timeline, from the query API (GET /streams/%s/events?order=asc):\n", demo.StreamID)
	for _, e := range page.Events {
		fmt.Printf("  %s  %-42s %s\n", e.OccurredAt, e.Type, e.EventID)
	}
	b, _ := json.MarshalIndent(state, "  ", "  ")
	fmt.Printf("\nIts state (GET /streams/%s):\n  %s\n", demo.StreamID, b)
	fmt.Printf("\nThe inbox of `make run` shows LIVE, SIMULCAST LIVE, then DISCONNECTED once the grace has passed;\n" +
		"nothing for the late \"active\" nor for the retried delivery.\n")
	fmt.Printf("The change feed (.cache/local-run/logs/changes.log) has one line per status change of the stream and its target.\n")

	if _, err := demo.SendRules(ctx, url+localstack.WebhookPath, secret, settings, "", len(sent)+1, os.Stdout); err != nil {
		return err
	}
	shows := "LIVE"
	if settings.Grace > 0 {
		shows += ", nothing for the brief drops"
		if settings.FlapThreshold >= 1 && settings.FlapThreshold <= 5 {
			shows += " but one UNSTABLE"
		}
		shows += ", DISCONNECTED " + alerts.FormatDuration(settings.Grace) + " after the real drop"
	} else {
		shows += ", DISCONNECTED at once"
	}
	fmt.Printf("\nThe inbox shows %s,\nand LIVE again with the downtime. The stream's state keeps what the rules remember:\n  curl -sS %s/streams/%s\n",
		shows, url, demo.StreamID)

	text, err := os.ReadFile(filepath.Join(root, ".cache", "local-run", routingFile))
	var info localstack.RoutingInfo
	if err == nil {
		err = json.Unmarshal(text, &info)
	}
	if err != nil {
		return fmt.Errorf("read the running stack's routing (%s): %w", routingFile, err)
	}
	run := fmt.Sprint(time.Now().UnixNano())
	return demo.SendRouting(ctx, url+localstack.WebhookPath, secret, info.Routing(), run, os.Stdout)
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// portsPrefix is the port variables this stack was started with, for the
// commands the banner shows: make demo and make ctl-local find a stack on
// other ports only when given the same ones.
func portsPrefix() string {
	var out string
	for _, name := range []string{"PORT", "DYNAMODB_PORT", "SNS_PORT"} {
		if v := os.Getenv(name); v != "" {
			out += name + "=" + v + " "
		}
	}
	return out
}
