package localstack_test

import (
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
)

// The README's queries run against the local stack as written (the stack
// on its own port here): after the demo, each answers 200.
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
	ctx, st, _ := startStack(t, 2*time.Minute, localstack.Config{})
	if _, err := demo.Send(ctx, st.URL+localstack.WebhookPath, st.Secret, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range urls {
		u := strings.Replace(m[1], "http://127.0.0.1:3000", st.URL, 1)
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("the README's %s answers %d", m[1], resp.StatusCode)
		}
	}
}
