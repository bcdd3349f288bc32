package awslocal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// HTTPHandler is a Lambda handler of API Gateway HTTP API requests
// (payload format 2.0), such as httpapi.Webhook.Handle.
type HTTPHandler func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Route binds an API Gateway route to a handler.
type Route struct {
	Method  string // GET, POST, … or ANY
	Path    string // /streams/{streamId}; a last segment {name+} takes the rest
	Handler HTTPHandler
}

// maxPayload is API Gateway's request size limit.
const maxPayload = 10 << 20

// Gateway is a stand-in for an API Gateway HTTP API: it matches a request to
// a route as API Gateway does (404 when none matches, whatever the reason),
// turns it into the payload 2.0 event and writes the handler's response.
type Gateway struct {
	Routes []Route
	Logger *slog.Logger
}

// match finds the route of a request as API Gateway does: an ANY route
// takes every method, and of several routes that match, one without a
// greedy {name+} segment wins, then one that names the method over ANY.
func (g *Gateway) match(method, path string) (Route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best Route
	var bestParams map[string]string
	bestRank := -1
	for _, rt := range g.Routes {
		if rt.Method != "ANY" && rt.Method != method {
			continue
		}
		pattern := strings.Split(strings.Trim(rt.Path, "/"), "/")
		params, ok := matchPath(pattern, segs)
		if !ok {
			continue
		}
		rank := 0
		if !strings.HasSuffix(pattern[len(pattern)-1], "+}") {
			rank += 2
		}
		if rt.Method == method {
			rank++
		}
		if rank > bestRank {
			best, bestParams, bestRank = rt, params, rank
		}
	}
	return best, bestParams, bestRank >= 0
}

func matchPath(pattern, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}") && i == len(pattern)-1 {
			if i >= len(segs) {
				return nil, false
			}
			params[p[1:len(p)-2]] = strings.Join(segs[i:], "/")
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, len(pattern) == len(segs)
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := g.Logger
	if log == nil {
		log = slog.Default()
	}
	rt, params, ok := g.match(r.Method, r.URL.Path)
	if !ok {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	req, err := toEvent(r, rt, params)
	if err != nil {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	resp, err := rt.Handler(r.Context(), req)
	if err != nil {
		// What API Gateway answers when the function fails.
		log.Error("handler failed", "route", req.RouteKey, "requestId", req.RequestContext.RequestID, "error", err.Error())
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	writeResponse(w, resp)
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"message\":%q}\n", msg)
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// toEvent builds the payload 2.0 event API Gateway would send for r:
// lower-case header names with repeated values joined by commas, repeated
// query parameters joined by commas, cookies apart, and a body that is not
// valid UTF-8 passed base64-encoded.
func toEvent(r *http.Request, rt Route, params map[string]string) (events.APIGatewayV2HTTPRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxPayload {
		return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("body over %d bytes", maxPayload)
	}
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		name := strings.ToLower(k)
		if name == "cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[name] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = make(map[string]string, len(q))
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	if len(params) == 0 {
		params = nil
	}
	now := time.Now()
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	req := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.Method + " " + rt.Path,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:    "local",
			APIID:        "local",
			DomainName:   r.Host,
			DomainPrefix: "local",
			RequestID:    requestID(),
			RouteKey:     rt.Method + " " + rt.Path,
			Stage:        "$default",
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			req.Body = string(body)
		} else {
			req.Body = base64.StdEncoding.EncodeToString(body)
			req.IsBase64Encoded = true
		}
	}
	return req, nil
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
