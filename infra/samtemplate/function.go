package samtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ErrUnresolved: a template value refers to something the local stack does
// not know (a resource, an attribute, a parameter).
var ErrUnresolved = errors.New("samtemplate: unresolved reference")

// The resource types the functions' readers look for.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeTable    = "AWS::DynamoDB::Table"
)

// Function returns the AWS::Serverless::Function logicalID.
func (t *Template) Function(logicalID string) (Resource, error) {
	return t.ofType(logicalID, TypeFunction)
}

// Value is one template value with its intrinsic function kept, as the
// text of an Fn::Sub: a Sub is its text with its ${…} references; Ref and
// GetAtt are written "${Name}" and "${Name.Attr}"; a plain value is its
// text with "${" escaped. One Substitute then resolves them all.
type Value struct {
	Sub string
}

// Value reads a plain scalar, !Ref, !Sub (without a variable map) or
// !GetAtt, in short or long form, as a Value.
func (n Node) Value() (Value, error) {
	name, arg := n.Intrinsic()
	switch name {
	case "Ref":
		return Value{Sub: "${" + arg.Text() + "}"}, nil
	case "Fn::Sub":
		if !arg.IsScalar() {
			return Value{}, errors.New("!Sub with a variable map is not supported locally")
		}
		return Value{Sub: arg.Text()}, nil
	case "Fn::GetAtt":
		if t := getAtt(arg); t != "" {
			return Value{Sub: "${" + t + "}"}, nil
		}
		return Value{}, errors.New("bad GetAtt")
	case "":
	default:
		return Value{}, fmt.Errorf("unsupported %s", name)
	}
	if !n.Exists() {
		return Value{}, errors.New("missing value")
	}
	switch n.n.ShortTag() {
	case "!!str", "!!int", "!!bool", "!!float":
		if n.IsScalar() {
			// Escape "${" so Substitute leaves it alone.
			return Value{Sub: strings.ReplaceAll(n.n.Value, "${", "${!")}, nil
		}
	}
	return Value{}, fmt.Errorf("unsupported value (tag %s)", n.n.ShortTag())
}

var subRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// Substitute resolves v's references with vars (logical id, "Id.Attr" or a
// pseudo parameter such as "AWS::Region" → value), as CloudFormation's
// Fn::Sub does; "${!x}" is the literal "${x}". A reference vars lacks is an
// ErrUnresolved naming it.
func (v Value) Substitute(vars map[string]string) (string, error) {
	var missing []string
	out := subRef.ReplaceAllStringFunc(v.Sub, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		val, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return val
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: %s", ErrUnresolved, strings.Join(missing, ", "))
	}
	return out, nil
}

// Environment returns the function's environment variables (the Globals'
// merged under its own), each with its intrinsic kept.
func (t *Template) Environment(functionID string) (map[string]Value, error) {
	fn, err := t.Function(functionID)
	if err != nil {
		return nil, err
	}
	env := map[string]Value{}
	for _, vars := range []Node{t.Globals("Function").Get("Environment", "Variables"), fn.Properties().Get("Environment", "Variables")} {
		for name, n := range vars.Entries() {
			v, err := n.Value()
			if err != nil {
				return nil, fmt.Errorf("samtemplate: %s environment %s: %w", functionID, name, err)
			}
			env[name] = v
		}
	}
	return env, nil
}

// Event is one entry of a function's Events.
type Event struct {
	Name       string // its key under Events
	Type       string // e.g. DynamoDB, HttpApi
	Properties Node
}

// Events lists the function's events of type typ ("" for every type), in
// the template's order.
func (t *Template) Events(functionID, typ string) ([]Event, error) {
	fn, err := t.Function(functionID)
	if err != nil {
		return nil, err
	}
	var out []Event
	for name, ev := range fn.Properties().Get("Events").Entries() {
		e := Event{Name: name, Type: ev.Get("Type").Text(), Properties: ev.Get("Properties")}
		if typ == "" || e.Type == typ {
			out = append(out, e)
		}
	}
	return out, nil
}

// Statement is one IAM policy statement, its values as written.
type Statement struct {
	Sid, Effect string
	Actions     []string
	Resources   []Node // with their intrinsics: Target names each
	Node               // the whole statement (Principal, Condition, …)
}

// Statements reads a policy document's Statement (one or a list).
func Statements(policy Node) []Statement {
	var out []Statement
	for _, st := range policy.Get("Statement").List() {
		out = append(out, Statement{
			Sid:       st.Get("Sid").Text(),
			Effect:    st.Get("Effect").Text(),
			Actions:   st.Get("Action").Texts(),
			Resources: st.Get("Resource").List(),
			Node:      st,
		})
	}
	return out
}

// StreamSource is a function's DynamoDB stream event source, as the event
// source mapping will run it.
type StreamSource struct {
	// Table is the logical id of the table whose stream it reads.
	Table            string
	StartingPosition string // TRIM_HORIZON or LATEST
	BatchSize        int
	// MaximumBatchingWindowInSeconds is how long the mapping may wait to
	// fill a batch (0, the default for streams: it hands over what one
	// poll read).
	MaximumBatchingWindowInSeconds int
	// ParallelizationFactor is how many batches of one shard may be in
	// flight at once (1, the default), records split among them by
	// partition key.
	ParallelizationFactor int
	// FilterPatterns are the FilterCriteria's patterns (JSON text); a record
	// reaches the function when any matches, or always when there is none.
	FilterPatterns []string
	// ReportBatchItemFailures: the function returns the records to retry.
	ReportBatchItemFailures bool
	// MaximumRetryAttempts: -1 (the default) retries until the records
	// expire.
	MaximumRetryAttempts int
	// MaximumRecordAgeInSeconds: -1 (the default) keeps retrying a record
	// whatever its age.
	MaximumRecordAgeInSeconds int
	// OnFailure is DestinationConfig.OnFailure.Destination (an ARN, with its
	// intrinsic kept), where the mapping records a batch it gives up on;
	// empty when there is none.
	OnFailure Value
}

// StreamSource returns the first DynamoDB event of the function.
func (t *Template) StreamSource(functionID string) (StreamSource, error) {
	evs, err := t.Events(functionID, "DynamoDB")
	if err != nil {
		return StreamSource{}, err
	}
	if len(evs) == 0 {
		return StreamSource{}, fmt.Errorf("samtemplate: %s has no DynamoDB event", functionID)
	}
	p := evs[0].Properties
	src := StreamSource{StartingPosition: "TRIM_HORIZON", BatchSize: 100, ParallelizationFactor: 1, MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1}
	stream, err := p.Get("Stream").Value()
	if err != nil {
		return src, fmt.Errorf("samtemplate: %s event %s: Stream: %w", functionID, evs[0].Name, err)
	}
	ref := strings.TrimSuffix(strings.TrimPrefix(stream.Sub, "${"), "}")
	src.Table, _, _ = strings.Cut(ref, ".")
	if s := p.Get("StartingPosition").Text(); s != "" {
		src.StartingPosition = s
	}
	for key, dst := range map[string]*int{
		"BatchSize": &src.BatchSize, "MaximumRetryAttempts": &src.MaximumRetryAttempts,
		"MaximumRecordAgeInSeconds":      &src.MaximumRecordAgeInSeconds,
		"MaximumBatchingWindowInSeconds": &src.MaximumBatchingWindowInSeconds,
		"ParallelizationFactor":          &src.ParallelizationFactor,
	} {
		if s := p.Get(key).Text(); s != "" {
			if *dst, err = strconv.Atoi(s); err != nil {
				return src, fmt.Errorf("samtemplate: %s %s %q: %w", functionID, key, s, err)
			}
		}
	}
	if d := p.Get("DestinationConfig", "OnFailure", "Destination"); d.Exists() {
		if src.OnFailure, err = d.Value(); err != nil {
			return src, fmt.Errorf("samtemplate: %s DestinationConfig.OnFailure.Destination: %w", functionID, err)
		}
	}
	for _, typ := range p.Get("FunctionResponseTypes").Texts() {
		if typ == "ReportBatchItemFailures" {
			src.ReportBatchItemFailures = true
		}
	}
	for _, f := range p.Get("FilterCriteria", "Filters").List() {
		pat := f.Get("Pattern")
		switch {
		case !pat.Exists():
		case pat.IsScalar():
			src.FilterPatterns = append(src.FilterPatterns, pat.Text())
		default:
			// A pattern written as YAML rather than JSON text.
			b, err := json.Marshal(pat.Decode())
			if err != nil {
				return src, fmt.Errorf("samtemplate: %s filter pattern: %w", functionID, err)
			}
			src.FilterPatterns = append(src.FilterPatterns, string(b))
		}
	}
	return src, nil
}

// Route is one HTTP API route of a function: one of its HttpApi events.
type Route struct {
	Function string
	Method   string // upper case; "ANY" for any
	Path     string // e.g. /streams/{streamId}
	// Event is the event's name; Properties its properties as written
	// (ApiId, Auth, PayloadFormatVersion, …).
	Event      string
	Properties Node
}

// RouteKey is the route as API Gateway names it ("GET /streams/{streamId}").
func (rt Route) RouteKey() string { return rt.Method + " " + rt.Path }

// HTTPRoutes lists the HttpApi events of every function, sorted by path.
func (t *Template) HTTPRoutes() []Route {
	var routes []Route
	for _, id := range t.ResourcesOfType(TypeFunction) {
		evs, _ := t.Events(id, "HttpApi")
		for _, ev := range evs {
			rt := Route{Function: id, Method: strings.ToUpper(ev.Properties.Get("Method").Text()), Path: ev.Properties.Get("Path").Text(),
				Event: ev.Name, Properties: ev.Properties}
			if rt.Method == "" {
				rt.Method = "ANY"
			}
			if rt.Path == "" {
				rt.Path = "$default"
			}
			routes = append(routes, rt)
		}
	}
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Path != routes[j].Path {
			return routes[i].Path < routes[j].Path
		}
		return routes[i].Method < routes[j].Method
	})
	return routes
}
