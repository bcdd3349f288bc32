package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// routingFlags are what every subscription command needs: the notifier's
// routes (which topics are the alert topics) and the state table (which
// workspaces exist).
type routingFlags struct {
	routes, state *string
}

func addRoutingFlags(fs *flag.FlagSet) routingFlags {
	return routingFlags{
		routes: fs.String("routes", os.Getenv("ALERT_ROUTES"), "event type → topic ARN, JSON (ALERT_ROUTES): which topics are the alert topics"),
		state:  fs.String("state-table", os.Getenv("STATE_TABLE"), "stream state table (STATE_TABLE): which workspaces and streams exist"),
	}
}

func (f routingFlags) routing(ctx context.Context, awsConfig func(context.Context) (aws.Config, error), checkWorkspaces bool) (*Routing, error) {
	routes, err := alerts.ParseRoutes(*f.routes)
	if err != nil {
		return nil, fmt.Errorf("-routes (ALERT_ROUTES): %w", err)
	}
	if len(routes) == 0 {
		return nil, errors.New("-routes (or ALERT_ROUTES) is required: the notifier's routes name the alert topics")
	}
	cfg, err := awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	r := &Routing{SNS: sns.NewFromConfig(cfg), Routes: routes}
	if checkWorkspaces {
		if *f.state == "" {
			return nil, errors.New("-state-table (or STATE_TABLE) is required to check the workspace (or pass -allow-new)")
		}
		r.Directory = FleetDirectory{Fleet: &streamstate.Fleet{Client: dynamodb.NewFromConfig(cfg), Table: *f.state}}
	}
	return r, nil
}

func splitList(s string) []string { return strings.Split(s, ",") }

// RunSubscribe is `fastpixctl subscribe`.
func RunSubscribe(ctx context.Context, args []string, out io.Writer, awsConfig func(context.Context) (aws.Config, error)) error {
	fs := flag.NewFlagSet("subscribe", flag.ContinueOnError)
	rf := addRoutingFlags(fs)
	workspace := fs.String("workspace", "", "the workspace whose alerts to send (required)")
	streams := fs.String("streams", "", "only these streams of the workspace, comma-separated (default: all its streams)")
	kinds := fs.String("kinds", "", "alert kinds, comma-separated: "+strings.Join(alerts.Kinds, ", ")+" (default: all)")
	email := fs.String("email", "", "send to this email address")
	phone := fs.String("sms", "", "send to this phone number, E.164 (+14155550123)")
	https := fs.String("https", "", "send to this https:// URL (a chat integration, a webhook)")
	allowNew := fs.Bool("allow-new", false, "accept a workspace or stream the receiver has not seen yet")
	dryRun := fs.Bool("dry-run", false, "check and print the plan; create nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var eps []Endpoint
	for proto, addr := range map[string]string{"email": *email, "sms": *phone, "https": *https} {
		if addr != "" {
			eps = append(eps, Endpoint{Protocol: proto, Address: addr})
		}
	}
	if len(eps) != 1 {
		return errors.New("name exactly one of -email, -sms, -https")
	}
	r, err := rf.routing(ctx, awsConfig, !*allowNew)
	if err != nil {
		return err
	}
	sel := Selection{WorkspaceID: *workspace, Kinds: splitList(*kinds)}
	if *streams != "" {
		sel.StreamIDs = splitList(*streams)
	}
	plan, err := r.Check(ctx, eps[0], sel)
	if err != nil {
		return fmt.Errorf("nothing was subscribed: %w", err)
	}
	fmt.Fprint(out, PlanText(plan))
	if *dryRun {
		fmt.Fprintln(out, "dry run: nothing was subscribed")
		return nil
	}
	made, err := r.Subscribe(ctx, plan)
	if err != nil {
		return err
	}
	for _, s := range made {
		fmt.Fprintf(out, "subscribed: %s\n", s.ARN)
	}
	if eps[0].Protocol != "sms" {
		fmt.Fprintf(out, "SNS sent %s a confirmation per topic (%d): alerts flow once each is confirmed.\n", eps[0].Address, len(made))
	}
	return nil
}

// RunSubscriptions is `fastpixctl subscriptions`.
func RunSubscriptions(ctx context.Context, args []string, out io.Writer, awsConfig func(context.Context) (aws.Config, error)) error {
	fs := flag.NewFlagSet("subscriptions", flag.ContinueOnError)
	rf := addRoutingFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := rf.routing(ctx, awsConfig, false)
	if err != nil {
		return err
	}
	subs, err := r.List(ctx)
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, SubscriptionsTable(subs, AlertTopics(r.Routes)))
	return err
}

// RunUnsubscribe is `fastpixctl unsubscribe`.
func RunUnsubscribe(ctx context.Context, args []string, out io.Writer, awsConfig func(context.Context) (aws.Config, error)) error {
	fs := flag.NewFlagSet("unsubscribe", flag.ContinueOnError)
	rf := addRoutingFlags(fs)
	arn := fs.String("arn", "", "the subscription's ARN, as fastpixctl subscriptions shows it (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *arn == "" {
		return errors.New("-arn is required (fastpixctl subscriptions lists them)")
	}
	r, err := rf.routing(ctx, awsConfig, false)
	if err != nil {
		return err
	}
	s, err := r.Unsubscribe(ctx, *arn)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "unsubscribed %s %s from %s\n", s.Protocol, cell(s.Address), topicName(s.TopicARN))
	return nil
}
