package board

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// ErrFleet: the query API did not give the fleet listing.
var ErrFleet = errors.New("board: fleet listing failed")

// maxFleetPages bounds one read of the fleet (100 streams a page): a
// cursor that never ends is an error, not a hang.
const maxFleetPages = 2000

// emptyPayloadHash is the SHA-256 of an empty body, as SigV4 signs a GET.
var emptyPayloadHash = func() string { h := sha256.Sum256(nil); return hex.EncodeToString(h[:]) }()

// BoardStatuses are the statuses the board lists: every status a stream
// can hold but deleted.
func BoardStatuses() []string {
	return slices.DeleteFunc(slices.Clone(streamstate.StreamStatuses), func(s string) bool { return s == statusDeleted })
}

// FleetAPI reads the fleet through the query API, GET /streams, page by
// page, signed with the operator's AWS credentials (SigV4, service
// execute-api) when Credentials is set; the local stack's API is open.
type FleetAPI struct {
	// URL is the stack's StreamsApiUrl output, …/streams.
	URL         string
	Credentials aws.CredentialsProvider
	Region      string
	// HTTP is the client (a 30 s timeout when nil).
	HTTP *http.Client
	// Now is the signing clock (time.Now when nil).
	Now func() time.Time
}

// List reads every stream in the given statuses (of one workspace when
// workspace is set).
func (f *FleetAPI) List(ctx context.Context, statuses []string, workspace string) ([]Stream, error) {
	q := url.Values{"status": {strings.Join(statuses, ",")}, "limit": {strconv.Itoa(streamstate.MaxListLimit)}}
	if workspace != "" {
		q.Set("workspace", workspace)
	}
	var out []Stream
	for range maxFleetPages {
		var page struct {
			Streams    []Stream `json:"streams"`
			NextCursor string   `json:"nextCursor"`
		}
		if err := f.get(ctx, q, &page); err != nil {
			return out, err
		}
		out = append(out, page.Streams...)
		if page.NextCursor == "" {
			return out, nil
		}
		q.Set("cursor", page.NextCursor)
	}
	return out, fmt.Errorf("%w: more than %d pages", ErrFleet, maxFleetPages)
}

func (f *FleetAPI) get(ctx context.Context, q url.Values, v any) error {
	u, err := url.Parse(f.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("%w: the query API URL %q is not a URL", ErrFleet, f.URL)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFleet, err)
	}
	req.Header.Set("Accept", "application/json")
	if f.Credentials != nil {
		creds, err := f.Credentials.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("%w: AWS credentials: %w", ErrFleet, err)
		}
		now := time.Now
		if f.Now != nil {
			now = f.Now
		}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptyPayloadHash, "execute-api", f.Region, now()); err != nil {
			return fmt.Errorf("%w: sign: %w", ErrFleet, err)
		}
	}
	client := f.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFleet, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%w: read the answer: %w", ErrFleet, err)
	}
	if resp.StatusCode != http.StatusOK {
		hint := ""
		if resp.StatusCode == http.StatusNotFound {
			hint = " (-api is the fleet listing's URL, ending in /streams: the stack's StreamsApiUrl output)"
		}
		return fmt.Errorf("%w: GET %s: HTTP %d: %.300s%s", ErrFleet, u.Scheme+"://"+u.Host+u.Path, resp.StatusCode, body, hint)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: unreadable answer: %w", ErrFleet, err)
	}
	return nil
}
