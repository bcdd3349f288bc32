package ops

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/filterpolicy"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// Who gets which alert: people subscribe to the alert topics with a filter
// policy on the alerts' message attributes (workspaceId, streamId, kind).
// Everything stays in SNS: what `aws sns list-subscriptions-by-topic`
// shows is the truth, and these commands only read and write it, after
// checking everything they can before the first write.

// Errors of Subscribe and Unsubscribe, for callers to branch on. Each is
// wrapped with what to change; when one is returned, SNS was left as it was.
var (
	// ErrBadEndpoint: not a well-formed email address, E.164 phone number
	// or HTTPS URL.
	ErrBadEndpoint = errors.New("ops: bad endpoint")
	// ErrBadSelection: no workspace, an unknown alert kind, a kind no
	// topic carries, or a policy over SNS's limits.
	ErrBadSelection = errors.New("ops: bad selection")
	// ErrUnknownWorkspace: the receiver has seen no stream of the
	// workspace, or the streams named are not the workspace's.
	ErrUnknownWorkspace = errors.New("ops: unknown workspace or stream")
	// ErrDuplicate: the endpoint is already subscribed to a topic.
	ErrDuplicate = errors.New("ops: already subscribed")
	// ErrTopicFull: a topic has MaxPerTopic filter policies already.
	ErrTopicFull = errors.New("ops: topic's filter policies at their limit")
	// ErrNotOurs: the subscription is not one of ours to remove (not on an
	// alert topic, or the template's catch-all without a filter policy).
	ErrNotOurs = errors.New("ops: not a routed subscription")
	// ErrUndone: a subscription failed after others were made; those were
	// removed again.
	ErrUndone = errors.New("ops: subscribing failed; the subscriptions made were removed")
)

// SubscriptionsAPI is the part of the SNS client the subscription commands
// use; *sns.Client has it.
type SubscriptionsAPI interface {
	Subscribe(ctx context.Context, in *sns.SubscribeInput, opts ...func(*sns.Options)) (*sns.SubscribeOutput, error)
	Unsubscribe(ctx context.Context, in *sns.UnsubscribeInput, opts ...func(*sns.Options)) (*sns.UnsubscribeOutput, error)
	ListSubscriptionsByTopic(ctx context.Context, in *sns.ListSubscriptionsByTopicInput, opts ...func(*sns.Options)) (*sns.ListSubscriptionsByTopicOutput, error)
	GetSubscriptionAttributes(ctx context.Context, in *sns.GetSubscriptionAttributesInput, opts ...func(*sns.Options)) (*sns.GetSubscriptionAttributesOutput, error)
}

var _ SubscriptionsAPI = (*sns.Client)(nil)

// Endpoint is where alerts go: Protocol email, sms or https.
type Endpoint struct {
	Protocol string
	Address  string
}

var (
	// e164 is a phone number as SNS's sms protocol wants it: "+", a country
	// code that does not start with 0, at most 15 digits in all.
	e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	// emailDomain is a DNS name with at least two labels.
	emailDomain = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$`)
)

// Check refuses a malformed endpoint, saying how to write it.
func (e Endpoint) Check() error {
	a := e.Address
	if e.Protocol != "sms" && strings.ContainsFunc(a, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%w: %q has spaces or control characters", ErrBadEndpoint, a)
	}
	switch e.Protocol {
	case "email":
		addr, err := mail.ParseAddress(a)
		at := strings.LastIndexByte(a, '@')
		if err != nil || addr.Address != a || len(a) > 254 || at < 1 || at > 64 || !emailDomain.MatchString(a[at+1:]) {
			return fmt.Errorf("%w: %q is not an email address: write it bare, as name@example.com", ErrBadEndpoint, a)
		}
	case "sms":
		if !e164.MatchString(a) {
			return fmt.Errorf("%w: %q is not an E.164 phone number: write + and the country code, digits only, as +14155550123", ErrBadEndpoint, a)
		}
	case "https":
		u, err := url.Parse(a)
		switch {
		case err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "":
			return fmt.Errorf("%w: %q is not an https:// URL", ErrBadEndpoint, a)
		case u.User != nil:
			return fmt.Errorf("%w: the URL carries a user or password: SNS would store and show it; authenticate the endpoint another way", ErrBadEndpoint)
		case u.Fragment != "" || len(a) > 2048:
			return fmt.Errorf("%w: %q: no #fragment, at most 2048 characters", ErrBadEndpoint, a)
		}
	default:
		return fmt.Errorf("%w: protocol %q: use email, sms or https", ErrBadEndpoint, e.Protocol)
	}
	return nil
}

// Selection is which alerts a person wants: one workspace's, optionally
// only some of its streams, optionally only some kinds (alerts.Kinds; all
// of them when empty).
type Selection struct {
	WorkspaceID string
	StreamIDs   []string
	Kinds       []string
}

func clean(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func (s Selection) normalized() (Selection, error) {
	s.WorkspaceID = strings.TrimSpace(s.WorkspaceID)
	s.StreamIDs, s.Kinds = clean(s.StreamIDs), clean(s.Kinds)
	if s.WorkspaceID == "" {
		return s, fmt.Errorf("%w: name the -workspace whose alerts these are", ErrBadSelection)
	}
	if len(s.Kinds) == 0 {
		s.Kinds = slices.Clone(alerts.Kinds)
	}
	for _, k := range s.Kinds {
		if !slices.Contains(alerts.Kinds, k) {
			return s, fmt.Errorf("%w: unknown alert kind %q: choose among %s", ErrBadSelection, k, strings.Join(alerts.Kinds, ", "))
		}
	}
	return s, nil
}

// Policy is the filter policy of the selection's alerts among kinds.
func (s Selection) Policy(kinds []string) string {
	return filterpolicy.Exacts(map[string][]string{
		alerts.AttrWorkspaceID: {s.WorkspaceID},
		alerts.AttrStreamID:    s.StreamIDs,
		alerts.AttrKind:        kinds,
	})
}

// KindTopics is which topics carry each kind of alert: where the notifier
// sends it (alerts.Routes.TopicOf), simulcast alerts to every simulcast
// type's topic.
func KindTopics(routes alerts.Routes) map[string][]string {
	out := map[string][]string{}
	add := func(kind string, rule alertrules.Kind, typ string) {
		if arn, ok := routes.TopicOf(rule, typ); ok && !slices.Contains(out[kind], arn) {
			out[kind] = append(out[kind], arn)
		}
	}
	add(alerts.KindLive, alertrules.KindLive, "")
	add(alerts.KindRecovered, alertrules.KindRecovery, "")
	add(alerts.KindDisconnected, alertrules.KindDisconnected, "")
	add(alerts.KindUnstable, alertrules.KindUnstable, "")
	for _, typ := range routes.Types() {
		if fastpix.IsSimulcast(typ) {
			add(alerts.KindSimulcast, alertrules.KindSimulcast, typ)
		}
	}
	for _, arns := range out {
		sort.Strings(arns)
	}
	return out
}

// AlertTopics are the routes' distinct topics, sorted.
func AlertTopics(routes alerts.Routes) []string {
	var out []string
	for _, t := range routes.Types() {
		arn, _ := routes.Topic(t)
		out = append(out, arn)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// Directory says which streams of a workspace the receiver knows.
type Directory interface {
	// Streams lists the workspace's streams; none when the workspace is
	// unknown.
	Streams(ctx context.Context, workspaceID string) ([]string, error)
}

// FleetDirectory knows a workspace by its streams in the state table (the
// fleet listing the query API and `fastpixctl status` read): a workspace
// is known once one of its streams has sent an event.
type FleetDirectory struct {
	Fleet streamstate.Lister
}

// Streams implements Directory, reading the fleet of every status.
func (d FleetDirectory) Streams(ctx context.Context, workspaceID string) ([]string, error) {
	q := streamstate.ListQuery{Statuses: streamstate.StreamStatuses, WorkspaceID: workspaceID, Limit: streamstate.MaxListLimit}
	var ids []string
	for {
		p, err := d.Fleet.List(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("ops: list the streams of workspace %s: %w", workspaceID, err)
		}
		for _, s := range p.Streams {
			ids = append(ids, s.StreamID)
		}
		if p.NextCursor == "" {
			return ids, nil
		}
		q.Cursor = p.NextCursor
	}
}

// Subscription is one subscription on an alert topic, as SNS has it.
type Subscription struct {
	TopicARN string
	ARN      string // "PendingConfirmation" until an email or https endpoint confirms
	Endpoint
	// Policy is the filter policy's text; "" for none (every alert of the
	// topic: the template's catch-all).
	Policy string
}

// Pending reports whether SNS waits for the endpoint's confirmation.
func (s Subscription) Pending() bool {
	return s.ARN == "" || strings.EqualFold(s.ARN, "PendingConfirmation") || strings.EqualFold(s.ARN, "pending confirmation")
}

// Routing manages the subscriptions of the alert topics.
type Routing struct {
	SNS    SubscriptionsAPI
	Routes alerts.Routes
	// Directory checks workspaces and streams; nil skips the check.
	Directory Directory
}

// List reads every subscription of the alert topics, with its policy.
func (r *Routing) List(ctx context.Context) ([]Subscription, error) {
	var out []Subscription
	for _, topic := range AlertTopics(r.Routes) {
		subs, err := r.topicSubscriptions(ctx, topic)
		if err != nil {
			return nil, err
		}
		out = append(out, subs...)
	}
	return out, nil
}

func (r *Routing) topicSubscriptions(ctx context.Context, topic string) ([]Subscription, error) {
	var out []Subscription
	in := &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)}
	for {
		page, err := r.SNS.ListSubscriptionsByTopic(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("ops: list the subscriptions of %s: %w", topic, err)
		}
		for _, s := range page.Subscriptions {
			sub := Subscription{TopicARN: topic, ARN: aws.ToString(s.SubscriptionArn), Endpoint: Endpoint{Protocol: aws.ToString(s.Protocol), Address: aws.ToString(s.Endpoint)}}
			if !sub.Pending() {
				attrs, err := r.SNS.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: s.SubscriptionArn})
				if err != nil {
					return nil, fmt.Errorf("ops: read the subscription %s: %w", sub.ARN, err)
				}
				sub.Policy = policyOf(attrs.Attributes["FilterPolicy"])
			}
			out = append(out, sub)
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// policyOf is a subscription's policy text, "" for none: SNS has no
// attribute then; an emulator may say "{}" or "null".
func policyOf(text string) string {
	switch strings.TrimSpace(text) {
	case "", "{}", "null":
		return ""
	}
	return text
}

// Plan is what Subscribe will create: one subscription per topic that
// carries a chosen kind, each with the policy of the kinds it carries.
type Plan struct {
	Endpoint  Endpoint
	Selection Selection
	Topics    []PlannedTopic
}

// PlannedTopic is one subscription to make.
type PlannedTopic struct {
	TopicARN string
	Kinds    []string
	Policy   string
	// Policies is how many filter policies the topic has now.
	Policies int
}

// Check validates everything a subscription needs before anything is
// created, and returns the plan: a malformed endpoint, an unknown
// workspace, stream or kind, a policy over SNS's limits, a duplicate and a
// full topic are refused here.
func (r *Routing) Check(ctx context.Context, ep Endpoint, sel Selection) (Plan, error) {
	if err := ep.Check(); err != nil {
		return Plan{}, err
	}
	sel, err := sel.normalized()
	if err != nil {
		return Plan{}, err
	}
	if r.Directory != nil {
		known, err := r.Directory.Streams(ctx, sel.WorkspaceID)
		if err != nil {
			return Plan{}, err
		}
		if len(known) == 0 {
			return Plan{}, fmt.Errorf("%w: the receiver has no stream of workspace %q: check the id (fastpixctl status lists workspaces), or pass -allow-new for a workspace that has not streamed yet", ErrUnknownWorkspace, sel.WorkspaceID)
		}
		for _, s := range sel.StreamIDs {
			if !slices.Contains(known, s) {
				return Plan{}, fmt.Errorf("%w: stream %q is not one of workspace %q's streams the receiver knows (fastpixctl status -workspace %s), or pass -allow-new", ErrUnknownWorkspace, s, sel.WorkspaceID, sel.WorkspaceID)
			}
		}
	}
	byKind := KindTopics(r.Routes)
	topicKinds := map[string][]string{}
	for _, k := range sel.Kinds {
		if len(byKind[k]) == 0 {
			return Plan{}, fmt.Errorf("%w: no topic carries %q alerts (ALERT_ROUTES routes none of their event types)", ErrBadSelection, k)
		}
		for _, t := range byKind[k] {
			topicKinds[t] = append(topicKinds[t], k)
		}
	}
	plan := Plan{Endpoint: ep, Selection: sel}
	for _, topic := range slices.Sorted(maps.Keys(topicKinds)) {
		kinds := topicKinds[topic]
		policy := sel.Policy(kinds)
		if _, err := filterpolicy.Parse(policy); err != nil {
			return Plan{}, fmt.Errorf("%w: %w", ErrBadSelection, err)
		}
		subs, err := r.topicSubscriptions(ctx, topic)
		if err != nil {
			return Plan{}, err
		}
		count := 0
		for _, s := range subs {
			if s.Policy != "" {
				count++
			}
			if s.Protocol == ep.Protocol && s.Address == ep.Address {
				return Plan{}, duplicate(s, policy)
			}
		}
		if count >= filterpolicy.MaxPerTopic {
			return Plan{}, fmt.Errorf("%w: %s has %d filter policies, SNS's quota is %d: remove some (fastpixctl subscriptions), or raise the quota in Service Quotas", ErrTopicFull, topicName(topic), count, filterpolicy.MaxPerTopic)
		}
		plan.Topics = append(plan.Topics, PlannedTopic{TopicARN: topic, Kinds: kinds, Policy: policy, Policies: count})
	}
	return plan, nil
}

func duplicate(s Subscription, policy string) error {
	name := topicName(s.TopicARN)
	if s.Pending() {
		return fmt.Errorf("%w: %s %s is waiting for its confirmation on %s: confirm it (the message SNS sent), or wait for SNS to drop it", ErrDuplicate, s.Protocol, s.Address, name)
	}
	if s.Policy == "" {
		return fmt.Errorf("%w: %s %s gets every alert of %s already (a subscription without a filter policy)", ErrDuplicate, s.Protocol, s.Address, name)
	}
	a, errA := filterpolicy.Canonical(s.Policy)
	b, errB := filterpolicy.Canonical(policy)
	if errA == nil && errB == nil && a == b {
		return fmt.Errorf("%w: %s %s has this very subscription on %s (%s): nothing to do there; to add other kinds or streams, subscribe with only those (they go to other topics), or unsubscribe it and subscribe with the whole selection", ErrDuplicate, s.Protocol, s.Address, name, s.ARN)
	}
	return fmt.Errorf("%w: %s %s is subscribed to %s with another selection (%s, policy %s): SNS keeps one subscription per endpoint and topic, so unsubscribe that one first (fastpixctl unsubscribe -arn %s) and subscribe again with the whole selection", ErrDuplicate, s.Protocol, s.Address, name, s.ARN, s.Policy, s.ARN)
}

func topicName(arn string) string { return arn[strings.LastIndexByte(arn, ':')+1:] }

// Subscribe makes the plan's subscriptions, all or nothing: when one
// fails, the ones already made are removed again (ErrUndone), and what
// could not be removed is named in the error.
func (r *Routing) Subscribe(ctx context.Context, plan Plan) ([]Subscription, error) {
	var made []Subscription
	for _, t := range plan.Topics {
		out, err := r.SNS.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: aws.String(t.TopicARN),
			Protocol: aws.String(plan.Endpoint.Protocol),
			Endpoint: aws.String(plan.Endpoint.Address),
			Attributes: map[string]string{
				"FilterPolicy":      t.Policy,
				"FilterPolicyScope": "MessageAttributes",
			},
			// The ARN even while the subscription waits for its
			// confirmation, so that it can be undone.
			ReturnSubscriptionArn: true,
		})
		if err != nil {
			undo := r.undo(context.WithoutCancel(ctx), made)
			return nil, errors.Join(fmt.Errorf("%w: subscribe to %s: %w", ErrUndone, topicName(t.TopicARN), err), undo)
		}
		made = append(made, Subscription{TopicARN: t.TopicARN, ARN: aws.ToString(out.SubscriptionArn), Endpoint: plan.Endpoint, Policy: t.Policy})
	}
	return made, nil
}

func (r *Routing) undo(ctx context.Context, made []Subscription) error {
	var errs []error
	for _, s := range slices.Backward(made) {
		if _, err := r.SNS.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(s.ARN)}); err != nil {
			errs = append(errs, fmt.Errorf("ops: could not remove %s again, remove it by hand (fastpixctl unsubscribe -arn %s): %w", s.ARN, s.ARN, err))
		}
	}
	return errors.Join(errs...)
}

// Unsubscribe removes one routed subscription by its ARN. It refuses a
// subscription that is not on an alert topic, and the template's catch-all
// (no filter policy), which belongs to the stack's AlertEmail and
// AlertPhone parameters.
func (r *Routing) Unsubscribe(ctx context.Context, arn string) (Subscription, error) {
	subs, err := r.List(ctx)
	if err != nil {
		return Subscription{}, err
	}
	i := slices.IndexFunc(subs, func(s Subscription) bool { return s.ARN == arn })
	if i < 0 {
		return Subscription{}, fmt.Errorf("%w: no subscription %s on the alert topics (fastpixctl subscriptions lists them; one waiting for its confirmation has no ARN yet and lapses by itself)", ErrNotOurs, arn)
	}
	s := subs[i]
	if s.Policy == "" {
		return Subscription{}, fmt.Errorf("%w: %s has no filter policy: it is the template's catch-all; change the stack's AlertEmail or AlertPhone instead", ErrNotOurs, arn)
	}
	if _, err := r.SNS.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(arn)}); err != nil {
		return Subscription{}, fmt.Errorf("ops: unsubscribe %s: %w", arn, err)
	}
	return s, nil
}

// SubscriptionsTable renders subscriptions as "who gets what": a row per
// subscription, and per topic how many filter policies it has of SNS's
// quota.
func SubscriptionsTable(subs []Subscription, topics []string) string {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPROTOCOL\tENDPOINT\tWORKSPACE\tSTREAMS\tKINDS\tSUBSCRIPTION")
	count := map[string]int{}
	for _, s := range subs {
		ws, streams, kinds := "all", "all", "all"
		if s.Policy != "" {
			count[s.TopicARN]++
			p, err := filterpolicy.Parse(s.Policy)
			if err != nil {
				ws, streams, kinds = "(policy: "+cell(s.Policy)+")", "", ""
			} else {
				ws, streams, kinds = exactOr(p, alerts.AttrWorkspaceID), exactOr(p, alerts.AttrStreamID), exactOr(p, alerts.AttrKind)
			}
		}
		arn := s.ARN
		if s.Pending() {
			arn = "pending confirmation"
			ws, streams, kinds = "?", "?", "?"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", topicName(s.TopicARN), s.Protocol, cell(s.Address), ws, streams, kinds, oneRow(arn))
	}
	_ = w.Flush()
	sb.WriteString("\n")
	for _, t := range topics {
		fmt.Fprintf(&sb, "%s: %d of %d filter policies\n", topicName(t), count[t], filterpolicy.MaxPerTopic)
	}
	return sb.String()
}

// exactOr shows a key's exact values, "all" when the policy does not select
// on it, and "(rule)" when it selects otherwise than by exact values.
func exactOr(p *filterpolicy.Policy, key string) string {
	if !slices.Contains(p.Keys(), key) {
		return "all"
	}
	if v, ok := p.Exact(key); ok {
		return cell(strings.Join(v, ","))
	}
	return "(rule)"
}

// oneRow keeps a value on its row: control characters and tabs become
// spaces. (A subscription's ARN is shown whole: it is what unsubscribe
// takes.)
func oneRow(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// cell is oneRow, with a very long value cut.
func cell(s string) string {
	s = oneRow(s)
	if r := []rune(s); len(r) > 80 {
		return string(r[:78]) + ".."
	}
	return s
}

// PlanText says what Subscribe will do.
func PlanText(p Plan) string {
	var sb strings.Builder
	for _, t := range p.Topics {
		fmt.Fprintf(&sb, "%s %s on %s: kinds %s, policy %s (%d of %d filter policies there)\n", p.Endpoint.Protocol, cell(p.Endpoint.Address), topicName(t.TopicARN), strings.Join(t.Kinds, ","), t.Policy, t.Policies, filterpolicy.MaxPerTopic)
	}
	return sb.String()
}
