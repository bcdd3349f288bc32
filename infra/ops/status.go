package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// Defaults of `fastpixctl status`.
const (
	// DefaultStatusRows bounds how many streams one board shows.
	DefaultStatusRows = 200
	// DefaultStatusEvery is the refresh period of -watch.
	DefaultStatusEvery = 5 * time.Second
)

// clearScreen moves an ANSI terminal's cursor home and clears it, so that a
// watched board is redrawn in place.
const clearScreen = "\033[H\033[2J"

// StatusBoard shows the fleet: the streams in some statuses, with their
// simulcast targets, most recently changed first.
type StatusBoard struct {
	Fleet streamstate.Lister
	// Statuses and WorkspaceID select the streams (see streamstate.ListQuery).
	Statuses    []string
	WorkspaceID string
	// Rows bounds the streams shown (DefaultStatusRows when 0).
	Rows int
	Out  io.Writer
	// Now is the clock of the "since" ages (time.Now when nil).
	Now func() time.Time
}

func (b *StatusBoard) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// load reads pages until the end or Rows streams; more says the board was
// cut short.
func (b *StatusBoard) load(ctx context.Context) (streams []streamstate.Listed, more bool, err error) {
	rows := b.Rows
	if rows <= 0 {
		rows = DefaultStatusRows
	}
	q := streamstate.ListQuery{Statuses: b.Statuses, WorkspaceID: b.WorkspaceID}
	for {
		q.Limit = min(rows-len(streams), streamstate.MaxListLimit)
		p, err := b.Fleet.List(ctx, q)
		if err != nil {
			return streams, false, err
		}
		streams = append(streams, p.Streams...)
		if p.NextCursor == "" {
			return streams, false, nil
		}
		if len(streams) >= rows {
			return streams, true, nil
		}
		q.Cursor = p.NextCursor
	}
}

// Show prints the board once.
func (b *StatusBoard) Show(ctx context.Context) error {
	streams, more, err := b.load(ctx)
	if err != nil {
		return err
	}
	_, err = io.WriteString(b.Out, StatusTable(streams, more, b.now()))
	return err
}

// Watch redraws the board every period until ctx ends (Ctrl-C). A refresh
// that fails is reported on the board and tried again at the next tick:
// a watch outlives a blip of the store.
func (b *StatusBoard) Watch(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = DefaultStatusEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		streams, more, err := b.load(ctx)
		if ctx.Err() != nil {
			return nil
		}
		now := b.now()
		header := fmt.Sprintf("%s%s  %s, every %s (Ctrl-C stops)\n\n", clearScreen, strings.Join(b.Statuses, ", "),
			now.UTC().Format("15:04:05 UTC"), every)
		if err != nil {
			header += fmt.Sprintf("refresh failed, retrying: %v\n\n", err)
		}
		body := ""
		if err == nil {
			body = StatusTable(streams, more, now)
		}
		if _, err := io.WriteString(b.Out, header+body); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// StatusTable renders streams as the operator's table: stream, workspace,
// status, since when (and how long ago, from now), and each simulcast
// target's status. more adds a line saying the list goes on.
func StatusTable(streams []streamstate.Listed, more bool, now time.Time) string {
	if len(streams) == 0 {
		return "no streams\n"
	}
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "STREAM\tWORKSPACE\tSTATUS\tSINCE\tSIMULCAST TARGETS")
	for _, s := range streams {
		ids := make([]string, 0, len(s.SimulcastTargets))
		for id := range s.SimulcastTargets {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		targets := make([]string, len(ids))
		for i, id := range ids {
			targets[i] = escaped(id) + " " + escaped(s.SimulcastTargets[id].Status)
		}
		// Ids and statuses come from FastPix's payloads: printed escaped,
		// they can neither break the table's columns nor drive the terminal.
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", escaped(s.StreamID), orDash(escaped(s.WorkspaceID)), escaped(s.Status), since(s.Since, now), orDash(strings.Join(targets, ", ")))
	}
	_ = w.Flush() // a strings.Builder never fails a write
	if more {
		fmt.Fprintf(&sb, "(%d shown; more streams match: raise -n or narrow -status / -workspace)\n", len(streams))
	}
	return sb.String()
}

// since shows a state time as UTC to the second, and its age.
func since(at string, now time.Time) string {
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return orDash(at)
	}
	return t.UTC().Format("2006-01-02 15:04:05Z") + " (" + age(now.Sub(t)) + " ago)"
}

// age is a short duration: seconds under a minute, then minutes, hours and
// days, two units at most.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch s := int64(d / time.Second); {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// RunStatus is `fastpixctl status`: it reads its flags from args and the
// state table's name from STATE_TABLE, and talks to DynamoDB with the
// configuration awsConfig loads (AWS, or the local stack through
// AWS_ENDPOINT_URL_DYNAMODB).
func RunStatus(ctx context.Context, args []string, out io.Writer, awsConfig func(context.Context) (aws.Config, error)) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	table := fs.String("state-table", os.Getenv("STATE_TABLE"), "stream state table (STATE_TABLE)")
	statuses := fs.String("status", strings.Join(slices.DeleteFunc(slices.Clone(streamstate.StreamStatuses), func(s string) bool { return s == "deleted" }), ","),
		"statuses to show, comma-separated: "+strings.Join(streamstate.StreamStatuses, ", "))
	workspace := fs.String("workspace", "", "only the streams of this workspace")
	rows := fs.Int("n", DefaultStatusRows, "most streams to show")
	watch := fs.Bool("watch", false, "redraw the table every -every until Ctrl-C")
	every := fs.Duration("every", DefaultStatusEvery, "refresh period with -watch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *table == "" {
		return errors.New("-state-table (or STATE_TABLE) is required")
	}
	var list []string
	for s := range strings.SplitSeq(*statuses, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	if _, err := (streamstate.ListQuery{Statuses: list}).Normalize(); err != nil {
		return fmt.Errorf("-status: %w", err)
	}
	if *rows < 1 {
		return errors.New("-n must be at least 1")
	}
	cfg, err := awsConfig(ctx)
	if err != nil {
		return err
	}
	b := &StatusBoard{
		Fleet:       &streamstate.Fleet{Client: dynamodb.NewFromConfig(cfg), Table: *table},
		Statuses:    list,
		WorkspaceID: *workspace,
		Rows:        *rows,
		Out:         out,
	}
	if *watch {
		return b.Watch(ctx, *every)
	}
	return b.Show(ctx)
}
