package awslocal_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/infra/awslocal"
)

func TestGateway(t *testing.T) {
	var seen events.APIGatewayV2HTTPRequest
	record := func(status int, body string) awslocal.HTTPHandler {
		return func(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			seen = req
			return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{"X-Handler": "yes"}, Body: body}, nil
		}
	}
	fail := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{}, errors.New("boom")
	}
	binary := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, IsBase64Encoded: true, Body: base64.StdEncoding.EncodeToString([]byte{0xff, 0x00})}, nil
	}
	gw := &awslocal.Gateway{Routes: []awslocal.Route{
		{Method: "POST", Path: "/webhooks/fastpix", Handler: record(200, `{"status":"accepted"}`)},
		{Method: "GET", Path: "/streams/{streamId}", Handler: record(200, "state")},
		{Method: "GET", Path: "/streams/{streamId}/events", Handler: record(200, "events")},
		{Method: "ANY", Path: "/files/{path+}", Handler: record(201, "file")},
		{Method: "PUT", Path: "/files/{path+}", Handler: record(202, "put")},
		{Method: "ANY", Path: "/files/readme", Handler: record(203, "readme")},
		{Method: "ANY", Path: "/hooks/any", Handler: record(405, "any")},
		{Method: "GET", Path: "/fail", Handler: fail},
		{Method: "GET", Path: "/binary", Handler: binary},
	}}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	tests := []struct {
		name       string
		method     string
		target     string
		header     http.Header
		body       []byte
		wantStatus int
		wantBody   string
		check      func(t *testing.T, req events.APIGatewayV2HTTPRequest)
	}{
		{name: "webhook", method: "POST", target: "/webhooks/fastpix", body: []byte(`{"id":"1"}`),
			header: http.Header{"FastPix-Signature": {"abc="}, "X-Multi": {"a", "b"}}, wantStatus: 200, wantBody: `{"status":"accepted"}`,
			check: func(t *testing.T, req events.APIGatewayV2HTTPRequest) {
				if req.RouteKey != "POST /webhooks/fastpix" || req.RequestContext.HTTP.Method != "POST" || req.RequestContext.RequestID == "" {
					t.Fatalf("request %+v", req)
				}
				if req.Headers["fastpix-signature"] != "abc=" || req.Headers["x-multi"] != "a,b" {
					t.Fatalf("headers %v", req.Headers)
				}
				if req.Body != `{"id":"1"}` || req.IsBase64Encoded {
					t.Fatalf("body %q base64=%v", req.Body, req.IsBase64Encoded)
				}
			}},
		{name: "non-UTF-8 body goes base64", method: "POST", target: "/webhooks/fastpix", body: []byte{0xff, 0xfe, '{'}, wantStatus: 200,
			check: func(t *testing.T, req events.APIGatewayV2HTTPRequest) {
				b, err := base64.StdEncoding.DecodeString(req.Body)
				if !req.IsBase64Encoded || err != nil || !bytes.Equal(b, []byte{0xff, 0xfe, '{'}) {
					t.Fatalf("body %q base64=%v", req.Body, req.IsBase64Encoded)
				}
			}},
		{name: "path parameter and repeated query", method: "GET", target: "/streams/s-1/events?type=a&type=b&limit=2", wantStatus: 200, wantBody: "events",
			check: func(t *testing.T, req events.APIGatewayV2HTTPRequest) {
				if req.RouteKey != "GET /streams/{streamId}/events" || req.PathParameters["streamId"] != "s-1" {
					t.Fatalf("route %q params %v", req.RouteKey, req.PathParameters)
				}
				if req.QueryStringParameters["type"] != "a,b" || req.QueryStringParameters["limit"] != "2" || req.RawQueryString != "type=a&type=b&limit=2" {
					t.Fatalf("query %v %q", req.QueryStringParameters, req.RawQueryString)
				}
			}},
		{name: "state route", method: "GET", target: "/streams/s-1", wantStatus: 200, wantBody: "state"},
		{name: "greedy parameter, any method", method: "DELETE", target: "/files/a/b/c", wantStatus: 201,
			check: func(t *testing.T, req events.APIGatewayV2HTTPRequest) {
				if req.PathParameters["path"] != "a/b/c" {
					t.Fatalf("params %v", req.PathParameters)
				}
			}},
		{name: "a method route wins over ANY", method: "PUT", target: "/files/a", wantStatus: 202, wantBody: "put"},
		{name: "a full path wins over a greedy one, whatever the method", method: "PUT", target: "/files/readme", wantStatus: 203, wantBody: "readme"},
		{name: "ANY takes GET", method: "GET", target: "/hooks/any", wantStatus: 405, wantBody: "any",
			check: func(t *testing.T, req events.APIGatewayV2HTTPRequest) {
				if req.RouteKey != "ANY /hooks/any" || req.RequestContext.HTTP.Method != "GET" {
					t.Fatalf("route %q method %q", req.RouteKey, req.RequestContext.HTTP.Method)
				}
			}},
		{name: "ANY takes OPTIONS", method: "OPTIONS", target: "/hooks/any", wantStatus: 405, wantBody: "any"},
		{name: "wrong method is no route", method: "GET", target: "/webhooks/fastpix", wantStatus: 404, wantBody: "{\"message\":\"Not Found\"}\n"},
		{name: "unknown path", method: "GET", target: "/streams", wantStatus: 404},
		{name: "too deep", method: "GET", target: "/streams/s-1/events/x", wantStatus: 404},
		{name: "handler error", method: "GET", target: "/fail", wantStatus: 500, wantBody: "{\"message\":\"Internal Server Error\"}\n"},
		{name: "base64 response", method: "GET", target: "/binary", wantStatus: 200, wantBody: "\xff\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen = events.APIGatewayV2HTTPRequest{}
			req, _ := http.NewRequest(tc.method, srv.URL+tc.target, bytes.NewReader(tc.body))
			for k, vs := range tc.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantBody != "" && string(body) != tc.wantBody {
				t.Fatalf("body %q, want %q", body, tc.wantBody)
			}
			if tc.wantStatus < 500 && tc.wantStatus != 404 && tc.wantBody != "" && tc.target != "/binary" && resp.Header.Get("X-Handler") != "yes" {
				t.Fatalf("the handler's headers were not written: %v", resp.Header)
			}
			if tc.check != nil {
				tc.check(t, seen)
			}
		})
	}
}
