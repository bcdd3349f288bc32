package localstack

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
)

// answers is a stand-in for DynamoDB Local that gives its answers in turn
// and records which operations were asked.
type answers struct {
	mu   sync.Mutex
	next []answer
	ops  []string
}

type answer struct {
	status int
	body   string
}

func (a *answers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ops = append(a.ops, strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810."))
	ans := a.next[0]
	if len(a.next) > 1 {
		a.next = a.next[1:]
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(ans.status)
	_, _ = io.WriteString(w, ans.body)
}

// A 400 that is not DynamoDB's (DynamoDB Local, just started on a busy
// machine) is tried again; a table the lost answer created is described;
// what DynamoDB itself refuses is not tried again.
func TestCreateTableRidesOutAnAnswerThatIsNotDynamoDBs(t *testing.T) {
	notJSON := answer{http.StatusBadRequest, "Bad Request"}
	created := answer{http.StatusOK, `{"TableDescription":{"TableName":"t","LatestStreamArn":"arn:created"}}`}
	inUse := answer{http.StatusBadRequest, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceInUseException","message":"Table already exists: t"}`}
	described := answer{http.StatusOK, `{"Table":{"TableName":"t","LatestStreamArn":"arn:described"}}`}
	invalid := answer{http.StatusBadRequest, `{"__type":"com.amazon.coral.validate#ValidationException","message":"One or more parameter values were invalid"}`}
	for _, c := range []struct {
		name    string
		answers []answer
		stream  string
		ops     string
	}{
		{"created at once", []answer{created}, "arn:created", "CreateTable"},
		{"created after two answers that are not JSON", []answer{notJSON, notJSON, created}, "arn:created", "CreateTable CreateTable CreateTable"},
		{"created by the try whose answer was lost", []answer{notJSON, inUse, described}, "arn:described", "CreateTable CreateTable DescribeTable"},
		{"refused by DynamoDB", []answer{invalid, created}, "", "CreateTable"},
		{"never an answer", []answer{notJSON}, "", "CreateTable CreateTable CreateTable CreateTable CreateTable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &answers{next: c.answers}
			srv := httptest.NewServer(a)
			defer srv.Close()
			cfg := testenv.AWSConfig()
			cfg.BaseEndpoint = aws.String(srv.URL)
			cfg.RetryMaxAttempts = 1
			desc, err := createTable(context.Background(), dynamodb.NewFromConfig(cfg), &dynamodb.CreateTableInput{TableName: aws.String("t")})
			switch {
			case c.stream == "" && err == nil:
				t.Errorf("created %+v, want an error", desc)
			case c.stream != "" && (err != nil || aws.ToString(desc.LatestStreamArn) != c.stream):
				t.Errorf("got %+v, %v; want the table with stream %s", desc, err, c.stream)
			}
			if got := strings.Join(a.ops, " "); got != c.ops {
				t.Errorf("asked %q, want %q", got, c.ops)
			}
		})
	}
}
