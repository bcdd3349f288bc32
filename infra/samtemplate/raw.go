package samtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrUnresolved: a template value refers to something the local stack does
// not know (a resource, an attribute, a parameter).
var ErrUnresolved = errors.New("samtemplate: unresolved reference")

// Raw is template.yaml as a YAML tree, with the intrinsic function tags
// (!Ref, !Sub, !GetAtt) kept as written. goformation resolves or drops
// intrinsics it cannot evaluate, which loses exactly what the local stack
// needs: which topic "${StreamLiveTopic}" names. The local stack reads the
// functions' environment, events and routes from here.
type Raw struct {
	resources  *yaml.Node // the Resources mapping
	globals    *yaml.Node // Globals.Function, or nil
	parameters *yaml.Node // the Parameters mapping, or nil
}

// LoadRaw parses the template at path.
func LoadRaw(path string) (*Raw, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("samtemplate: parse %s: %w", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("samtemplate: %s is not a YAML mapping", path)
	}
	root := doc.Content[0]
	r := &Raw{resources: get(root, "Resources")}
	if r.resources == nil {
		return nil, fmt.Errorf("samtemplate: %s has no Resources", path)
	}
	r.globals = get(get(root, "Globals"), "Function")
	r.parameters = get(root, "Parameters")
	return r, nil
}

// ParameterDefaults returns each parameter's default value (the value a
// deployment without overrides has), for Substitute.
func (r *Raw) ParameterDefaults() map[string]string {
	out := map[string]string{}
	for i := 0; r.parameters != nil && i+1 < len(r.parameters.Content); i += 2 {
		if d := get(r.parameters.Content[i+1], "Default"); d != nil && d.Kind == yaml.ScalarNode {
			out[r.parameters.Content[i].Value] = d.Value
		}
	}
	return out
}

// LoadRawDefault parses the repository's template.yaml.
func LoadRawDefault() (*Raw, error) {
	path, err := Path()
	if err != nil {
		return nil, err
	}
	return LoadRaw(path)
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// ResourcesOfType lists the logical ids of the resources of type typ
// (e.g. "AWS::SNS::Topic"), sorted.
func (r *Raw) ResourcesOfType(typ string) []string {
	var ids []string
	for i := 0; i+1 < len(r.resources.Content); i += 2 {
		if scalar(get(r.resources.Content[i+1], "Type")) == typ {
			ids = append(ids, r.resources.Content[i].Value)
		}
	}
	sort.Strings(ids)
	return ids
}

// HasResource reports whether the template declares logicalID.
func (r *Raw) HasResource(logicalID string) bool { return get(r.resources, logicalID) != nil }

func (r *Raw) function(logicalID string) (*yaml.Node, error) {
	res := get(r.resources, logicalID)
	if res == nil {
		return nil, fmt.Errorf("samtemplate: no resource %s", logicalID)
	}
	if t := scalar(get(res, "Type")); t != "AWS::Serverless::Function" {
		return nil, fmt.Errorf("samtemplate: %s is a %s, not a function", logicalID, t)
	}
	return get(res, "Properties"), nil
}

// Value is one template value with its intrinsic function kept: Sub is
// text with ${…} references; Ref and GetAtt are written as the Sub text
// "${Name}" and "${Name.Attr}", so that one Substitute resolves them all.
type Value struct {
	Sub string
}

// valueOf reads a scalar, !Ref, !Sub, !GetAtt or their Fn:: forms.
func valueOf(n *yaml.Node) (Value, error) {
	if n == nil {
		return Value{}, errors.New("missing value")
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		// Long forms: {Ref: X}, {Fn::Sub: …}, {Fn::GetAtt: …}.
		key, v := n.Content[0].Value, n.Content[1]
		switch key {
		case "Ref":
			return Value{Sub: "${" + v.Value + "}"}, nil
		case "Fn::Sub":
			if v.Kind == yaml.ScalarNode {
				return Value{Sub: v.Value}, nil
			}
		case "Fn::GetAtt":
			return getAtt(v)
		}
		return Value{}, fmt.Errorf("unsupported %s", key)
	}
	switch n.Tag {
	case "!Ref":
		return Value{Sub: "${" + n.Value + "}"}, nil
	case "!Sub":
		if n.Kind == yaml.ScalarNode {
			return Value{Sub: n.Value}, nil
		}
		return Value{}, errors.New("!Sub with a variable map is not supported locally")
	case "!GetAtt":
		return getAtt(n)
	}
	if n.Kind != yaml.ScalarNode || strings.HasPrefix(n.Tag, "!") && n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!bool" && n.Tag != "!!float" {
		return Value{}, fmt.Errorf("unsupported value (tag %s)", n.Tag)
	}
	// A plain value: escape "${" so Substitute leaves it alone.
	return Value{Sub: strings.ReplaceAll(n.Value, "${", "${!")}, nil
}

func getAtt(n *yaml.Node) (Value, error) {
	if n.Kind == yaml.ScalarNode {
		return Value{Sub: "${" + n.Value + "}"}, nil
	}
	if n.Kind == yaml.SequenceNode && len(n.Content) == 2 {
		return Value{Sub: "${" + n.Content[0].Value + "." + n.Content[1].Value + "}"}, nil
	}
	return Value{}, errors.New("bad GetAtt")
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
func (r *Raw) Environment(functionID string) (map[string]Value, error) {
	props, err := r.function(functionID)
	if err != nil {
		return nil, err
	}
	env := map[string]Value{}
	for _, vars := range []*yaml.Node{get(get(r.globals, "Environment"), "Variables"), get(get(props, "Environment"), "Variables")} {
		if vars == nil || vars.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(vars.Content); i += 2 {
			name := vars.Content[i].Value
			v, err := valueOf(vars.Content[i+1])
			if err != nil {
				return nil, fmt.Errorf("samtemplate: %s environment %s: %w", functionID, name, err)
			}
			env[name] = v
		}
	}
	return env, nil
}

// StreamSource is a function's DynamoDB stream event source, as the event
// source mapping will run it.
type StreamSource struct {
	// Table is the logical id of the table whose stream it reads.
	Table            string
	StartingPosition string // TRIM_HORIZON or LATEST
	BatchSize        int
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
func (r *Raw) StreamSource(functionID string) (StreamSource, error) {
	props, err := r.function(functionID)
	if err != nil {
		return StreamSource{}, err
	}
	evs := get(props, "Events")
	for i := 0; evs != nil && i+1 < len(evs.Content); i += 2 {
		ev := evs.Content[i+1]
		if scalar(get(ev, "Type")) != "DynamoDB" {
			continue
		}
		p := get(ev, "Properties")
		src := StreamSource{StartingPosition: "TRIM_HORIZON", BatchSize: 100, MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1}
		stream, err := valueOf(get(p, "Stream"))
		if err != nil {
			return src, fmt.Errorf("samtemplate: %s event %s: Stream: %w", functionID, evs.Content[i].Value, err)
		}
		ref := strings.TrimSuffix(strings.TrimPrefix(stream.Sub, "${"), "}")
		src.Table, _, _ = strings.Cut(ref, ".")
		if s := scalar(get(p, "StartingPosition")); s != "" {
			src.StartingPosition = s
		}
		if s := scalar(get(p, "BatchSize")); s != "" {
			if src.BatchSize, err = strconv.Atoi(s); err != nil {
				return src, fmt.Errorf("samtemplate: %s BatchSize %q: %w", functionID, s, err)
			}
		}
		if s := scalar(get(p, "MaximumRetryAttempts")); s != "" {
			if src.MaximumRetryAttempts, err = strconv.Atoi(s); err != nil {
				return src, fmt.Errorf("samtemplate: %s MaximumRetryAttempts %q: %w", functionID, s, err)
			}
		}
		if s := scalar(get(p, "MaximumRecordAgeInSeconds")); s != "" {
			if src.MaximumRecordAgeInSeconds, err = strconv.Atoi(s); err != nil {
				return src, fmt.Errorf("samtemplate: %s MaximumRecordAgeInSeconds %q: %w", functionID, s, err)
			}
		}
		if d := get(get(get(p, "DestinationConfig"), "OnFailure"), "Destination"); d != nil {
			if src.OnFailure, err = valueOf(d); err != nil {
				return src, fmt.Errorf("samtemplate: %s DestinationConfig.OnFailure.Destination: %w", functionID, err)
			}
		}
		if frt := get(p, "FunctionResponseTypes"); frt != nil {
			for _, t := range frt.Content {
				if t.Value == "ReportBatchItemFailures" {
					src.ReportBatchItemFailures = true
				}
			}
		}
		if filters := get(get(p, "FilterCriteria"), "Filters"); filters != nil {
			for _, f := range filters.Content {
				pat := get(f, "Pattern")
				if pat == nil {
					continue
				}
				if pat.Kind == yaml.ScalarNode {
					src.FilterPatterns = append(src.FilterPatterns, pat.Value)
					continue
				}
				// A pattern written as YAML rather than JSON text.
				var v any
				if err := pat.Decode(&v); err != nil {
					return src, fmt.Errorf("samtemplate: %s filter pattern: %w", functionID, err)
				}
				b, err := jsonText(v)
				if err != nil {
					return src, fmt.Errorf("samtemplate: %s filter pattern: %w", functionID, err)
				}
				src.FilterPatterns = append(src.FilterPatterns, b)
			}
		}
		return src, nil
	}
	return StreamSource{}, fmt.Errorf("samtemplate: %s has no DynamoDB event", functionID)
}

// Route is one HTTP API route of a function.
type Route struct {
	Function string
	Method   string // upper case; "ANY" for any
	Path     string // e.g. /streams/{streamId}
}

// RouteKey is the route as API Gateway names it ("GET /streams/{streamId}").
func (rt Route) RouteKey() string { return rt.Method + " " + rt.Path }

// HTTPRoutes lists the HttpApi events of every function, sorted by path.
func (r *Raw) HTTPRoutes() []Route {
	var routes []Route
	for _, id := range r.ResourcesOfType("AWS::Serverless::Function") {
		props, _ := r.function(id)
		evs := get(props, "Events")
		for i := 0; evs != nil && i+1 < len(evs.Content); i += 2 {
			ev := evs.Content[i+1]
			if scalar(get(ev, "Type")) != "HttpApi" {
				continue
			}
			p := get(ev, "Properties")
			rt := Route{Function: id, Method: strings.ToUpper(scalar(get(p, "Method"))), Path: scalar(get(p, "Path"))}
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

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
