package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
)

// deliveryLine is a line of the demo for one delivery: its number, type
// and the webhook's status.
var deliveryLine = regexp.MustCompile(`^\s*\d+  video\.\S+\s+\d{3}\b`)

// checkPart checks the narration of one part of make demo: it starts with
// its heading (rule, title, what it shows), says once that its events are
// constructed, and its delivery lines carry no note of their own.
func checkPart(t *testing.T, text string, n, deliveries int) {
	t.Helper()
	lines := strings.Split(strings.TrimLeft(text, "\n"), "\n")
	if !regexp.MustCompile(`^── \d of 3 · \S.* ─+$`).MatchString(lines[0]) || !strings.HasPrefix(lines[0], "── "+string(rune('0'+n))+" of 3") {
		t.Errorf("part %d does not start with its heading: %q", n, lines[0])
	}
	if c := strings.Count(strings.ReplaceAll(text, "\n", " "), ConstructedNote); c != 1 {
		t.Errorf("part %d says %d times that its events are constructed, want once (in its heading)", n, c)
	}
	if heading := text[:strings.Index(text, "\n\n")+1]; !strings.Contains(strings.ReplaceAll(heading, "\n", " "), ConstructedNote) {
		t.Errorf("part %d's heading does not say what is constructed:\n%s", n, heading)
	}
	got := 0
	for _, l := range lines {
		if utf8.RuneCountInString(l) > headingWidth && !deliveryLine.MatchString(l) {
			t.Errorf("part %d's narration runs past %d columns: %q", n, headingWidth, l)
		}
		if !deliveryLine.MatchString(l) {
			continue
		}
		got++
		if strings.Contains(l, "constructed") || strings.Contains(l, "original") {
			t.Errorf("part %d: a delivery line carries the origin note: %q", n, l)
		}
	}
	if got != deliveries {
		t.Errorf("part %d printed %d delivery lines for %d deliveries:\n%s", n, got, deliveries, text)
	}
}

// make demo's first two parts narrate once: a heading per part saying what
// it shows and, once, what is constructed; then a line per delivery.
func TestDemoNarratesOncePerPart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"accepted","eventId":"e"}`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var one strings.Builder
	sent, err := Send(ctx, srv.URL, "c2VjcmV0", &one)
	if err != nil {
		t.Fatal(err)
	}
	checkPart(t, one.String(), 1, len(sent))
	if !strings.Contains(one.String(), "byte for byte") {
		t.Errorf("part 1 does not say which event is FastPix's own:\n%s", one.String())
	}

	var two strings.Builder
	// No grace: the part's shortest run (its pauses are the clock's).
	rules, err := SendRules(ctx, srv.URL, "c2VjcmV0", alertrules.Settings{FlapThreshold: 3, FlapWindow: 10 * time.Minute}, "", len(sent)+1, &two)
	if err != nil {
		t.Fatal(err)
	}
	checkPart(t, two.String(), 2, len(rules))
}

func TestWrap(t *testing.T) {
	text := strings.Repeat("word ", 50) + "a-very-long-word-" + strings.Repeat("x", 120)
	for _, l := range strings.Split(wrap(text, 30), "\n") {
		if utf8.RuneCountInString(l) > 30 && strings.Contains(l, " ") {
			t.Errorf("line of %d runes: %q", utf8.RuneCountInString(l), l)
		}
	}
	if got := wrap("a  b\nc", 80); got != "a b c" {
		t.Errorf("wrap joins words with one space: %q", got)
	}
}
