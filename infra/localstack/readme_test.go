package localstack_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/demo"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/internal/repo"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
)

// The README's queries run against the local stack as written (the stack
// on its own port here): after the demo, each answers 200 and lists what
// the README says it shows.
func TestReadmeQueriesRunAgainstTheStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DynamoDB Local and goaws")
	}
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	urls := regexp.MustCompile(`(?m)^curl -sS '?(http://127\.0\.0\.1:3000/[^'\s]+)'?`).FindAllStringSubmatch(string(readme), -1)
	if len(urls) < 2 {
		t.Fatalf("the README shows %d queries of the local stack; want its examples", len(urls))
	}
	// make demo's first two parts (the third adds subscribers), with a
	// short grace as the README's excerpt has.
	rules := map[string]string{alertrules.EnvGraceSeconds: "2"}
	ctx, st, _ := startStack(t, 2*time.Minute, localstack.Config{Rules: rules})
	sent, err := demo.Send(ctx, st.URL+localstack.WebhookPath, st.Secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	settings, err := localstack.RulesSettings("", rules)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SendRules(ctx, st.URL+localstack.WebhookPath, st.Secret, settings, "", len(sent)+1, nil); err != nil {
		t.Fatal(err)
	}
	// The notifier applies what the demo sent a moment after each 200.
	deadline := time.Now().Add(30 * time.Second)
	for _, m := range urls {
		u := strings.Replace(m[1], "http://127.0.0.1:3000", st.URL, 1)
		for {
			status, listed, err := listed(u)
			if err != nil {
				t.Fatalf("the README's %s: %v", m[1], err)
			}
			if status != http.StatusOK {
				t.Errorf("the README's %s answers %d", m[1], status)
				break
			}
			if listed > 0 {
				break
			}
			if time.Now().After(deadline) {
				// What the README promises is something to see after the demo.
				t.Errorf("the README's %s lists nothing after make demo", m[1])
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// listed GETs u and says how many events or streams its answer lists.
func listed(u string) (int, int, error) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var answer struct {
		Events  []json.RawMessage `json:"events"`
		Streams []json.RawMessage `json:"streams"`
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, 0, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return resp.StatusCode, 0, err
	}
	return resp.StatusCode, len(answer.Events) + len(answer.Streams), nil
}
