package awslocal

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/filterpolicy"
)

// SNSFront stands in front of goaws on the SNS port and keeps what goaws
// cannot: subscription filter policies as they were written. goaws v0.4.5
// stores a policy as a map of string lists, so a policy with operators
// (prefix, anything-but, numeric, exists) comes back mangled, and it takes
// any text, where SNS refuses an invalid policy or one over its limits.
// The front checks a policy as SNS does (pkg/filterpolicy: syntax, 5 keys,
// 150 combinations, 256 KB, 200 policies per topic), refuses what SNS
// refuses with SNS's error codes, records the text of what it lets
// through, and answers GetSubscriptionAttributes with it. Everything else
// passes through to goaws untouched.
type SNSFront struct {
	URL   string
	srv   *http.Server
	proxy *httputil.ReverseProxy
	log   *slog.Logger

	mu       sync.Mutex
	policies map[string]string // subscription ARN → its filter policy as written
	// generation counts the requests that may change a topic's
	// subscriptions or their policies (Generation).
	generation atomic.Int64
}

// Generation changes whenever a request that may change subscriptions
// passed the front (Subscribe, SetSubscriptionAttributes, Unsubscribe,
// DeleteTopic): who reads subscriptions through the front may keep what
// it read while it stays the same.
func (f *SNSFront) Generation() int64 { return f.generation.Load() }

// maxQueryBody bounds a request the front reads: a Publish of 256 KB with
// its attributes, form-encoded, fits.
const maxQueryBody = 4 << 20

// StartSNSFront listens on port (a free one when 0) and forwards to
// target, goaws's endpoint.
func StartSNSFront(port int, target string, log *slog.Logger) (*SNSFront, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("awslocal: SNS front: %w", err)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("awslocal: SNS front: listen on %d: %w", port, err)
	}
	f := &SNSFront{URL: "http://" + l.Addr().String(), proxy: httputil.NewSingleHostReverseProxy(u), log: log, policies: map[string]string{}}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f, nil
}

// Close stops the front.
func (f *SNSFront) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
}

func (f *SNSFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		f.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxQueryBody+1))
	if err != nil || len(body) > maxQueryBody {
		snsError(w, http.StatusRequestEntityTooLarge, "InvalidParameter", "request too large")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, err := url.ParseQuery(string(body))
	if err != nil {
		f.proxy.ServeHTTP(w, r)
		return
	}
	switch form.Get("Action") {
	case "Subscribe", "SetSubscriptionAttributes", "Unsubscribe", "DeleteTopic", "CreateTopic":
		// Counted before and after: a reader that read in between reads
		// again.
		f.generation.Add(1)
		defer f.generation.Add(1)
	}
	switch form.Get("Action") {
	case "Subscribe":
		f.subscribe(w, r, form)
	case "SetSubscriptionAttributes":
		f.setAttributes(w, r, form)
	case "GetSubscriptionAttributes":
		f.getAttributes(w, r, form)
	case "Unsubscribe":
		rec := f.forward(r)
		if rec.Code == http.StatusOK {
			f.mu.Lock()
			delete(f.policies, form.Get("SubscriptionArn"))
			f.mu.Unlock()
		}
		copyResponse(w, rec)
	default:
		f.proxy.ServeHTTP(w, r)
	}
}

// forward sends r to goaws and keeps the answer, to be read or rewritten.
func (f *SNSFront) forward(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.proxy.ServeHTTP(rec, r)
	return rec
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, vs := range rec.Header() {
		if k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// check refuses a policy SNS would refuse, and one more policy on a topic
// that has MaxPerTopic. It answers the error itself and reports false.
func (f *SNSFront) check(w http.ResponseWriter, topicARN, policy, except string) bool {
	if strings.TrimSpace(policy) == "" {
		return true
	}
	if _, err := filterpolicy.Parse(policy); err != nil {
		snsError(w, http.StatusBadRequest, "InvalidParameter", "Invalid parameter: FilterPolicy: "+err.Error())
		return false
	}
	if topicARN == "" {
		return true
	}
	f.mu.Lock()
	n := 0
	for arn := range f.policies {
		if arn != except && strings.HasPrefix(arn, topicARN+":") {
			n++
		}
	}
	f.mu.Unlock()
	if n >= filterpolicy.MaxPerTopic {
		snsError(w, http.StatusForbidden, "FilterPolicyLimitExceeded", fmt.Sprintf("Filter policy limit exceeded: the topic has %d filter policies", n))
		return false
	}
	return true
}

// goawsCanKeep reports whether goaws can store policy as it is: a JSON
// object of lists of strings (exact values only).
func goawsCanKeep(policy string) bool {
	var m map[string][]string
	return json.Unmarshal([]byte(policy), &m) == nil
}

// withForm replaces r's body by form, encoded.
func withForm(r *http.Request, form url.Values) {
	body := form.Encode()
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
}

var subscriptionARN = regexp.MustCompile(`<SubscriptionArn>([^<]+)</SubscriptionArn>`)

func (f *SNSFront) subscribe(w http.ResponseWriter, r *http.Request, form url.Values) {
	policy := ""
	for i := 1; ; i++ {
		k := form.Get(fmt.Sprintf("Attributes.entry.%d.key", i))
		if k == "" {
			break
		}
		if k == "FilterPolicy" {
			policy = form.Get(fmt.Sprintf("Attributes.entry.%d.value", i))
			if !goawsCanKeep(policy) {
				// goaws would keep a mangled copy; it gets none, and the
				// front answers with the policy as written.
				form.Set(fmt.Sprintf("Attributes.entry.%d.value", i), "{}")
			}
		}
	}
	if !f.check(w, form.Get("TopicArn"), policy, "") {
		return
	}
	withForm(r, form)
	rec := f.forward(r)
	if m := subscriptionARN.FindSubmatch(rec.Body.Bytes()); rec.Code == http.StatusOK && m != nil && strings.TrimSpace(policy) != "" {
		f.mu.Lock()
		f.policies[string(m[1])] = policy
		f.mu.Unlock()
	}
	copyResponse(w, rec)
}

func (f *SNSFront) setAttributes(w http.ResponseWriter, r *http.Request, form url.Values) {
	arn := form.Get("SubscriptionArn")
	if form.Get("AttributeName") != "FilterPolicy" {
		f.proxy.ServeHTTP(w, r)
		return
	}
	policy := form.Get("AttributeValue")
	topic := ""
	if i := strings.LastIndexByte(arn, ':'); i > 0 {
		topic = arn[:i]
	}
	if !f.check(w, topic, policy, arn) {
		return
	}
	if strings.TrimSpace(policy) != "" && !goawsCanKeep(policy) {
		// goaws refuses operators (ValidationError): it gets an empty
		// policy, the front keeps the real one.
		form.Set("AttributeValue", "{}")
		withForm(r, form)
	}
	rec := f.forward(r)
	if rec.Code == http.StatusOK {
		f.mu.Lock()
		if strings.TrimSpace(policy) == "" {
			delete(f.policies, arn)
		} else {
			f.policies[arn] = policy
		}
		f.mu.Unlock()
	}
	copyResponse(w, rec)
}

var filterPolicyEntry = regexp.MustCompile(`(<key>FilterPolicy</key>\s*<value>)([^<]*)(</value>)`)

func (f *SNSFront) getAttributes(w http.ResponseWriter, r *http.Request, form url.Values) {
	f.mu.Lock()
	policy, ok := f.policies[form.Get("SubscriptionArn")]
	f.mu.Unlock()
	rec := f.forward(r)
	if ok && rec.Code == http.StatusOK {
		var esc bytes.Buffer
		_ = xml.EscapeText(&esc, []byte(policy))
		body := filterPolicyEntry.ReplaceAllFunc(rec.Body.Bytes(), func(m []byte) []byte {
			parts := filterPolicyEntry.FindSubmatch(m)
			return append(append(append([]byte{}, parts[1]...), esc.Bytes()...), parts[3]...)
		})
		rec.Body = bytes.NewBuffer(body)
	}
	copyResponse(w, rec)
}

// snsError answers as SNS's query protocol does.
func snsError(w http.ResponseWriter, status int, code, msg string) {
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, []byte(msg))
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>local-sns-front</RequestId></ErrorResponse>`, code, esc.String())
}
