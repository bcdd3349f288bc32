package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// RouteFleet is the fleet listing's route: the streams in some statuses.
const RouteFleet = "GET /streams"

// FleetPage is the answer of GET /streams.
type FleetPage struct {
	Streams    []streamstate.Listed `json:"streams"`
	NextCursor string               `json:"nextCursor,omitempty"`
}

// fleet answers GET /streams?status=&workspace=&limit=&cursor=: the streams
// in the given statuses (comma-separated, or the parameter repeated), most
// recently changed first, each with its simulcast targets.
func (h *Streams) fleet(ctx context.Context, params map[string]string) (int, any, error) {
	valid := strings.Join(streamstate.StreamStatuses, ", ")
	var statuses []string
	// API Gateway joins a repeated parameter's values with commas.
	for s := range strings.SplitSeq(params["status"], ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(streamstate.StreamStatuses, s) {
			return badRequest(fmt.Errorf("unknown status %q: status is one or more of %s, comma-separated", s, valid))
		}
		statuses = append(statuses, s)
	}
	if len(statuses) == 0 {
		return badRequest(fmt.Errorf("status is required: one or more of %s, comma-separated", valid))
	}
	q := streamstate.ListQuery{Statuses: statuses, WorkspaceID: strings.TrimSpace(params["workspace"]), Cursor: params["cursor"]}
	if s, ok := params["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > streamstate.MaxListLimit {
			return badRequest(fmt.Errorf("limit must be a whole number from 1 to %d", streamstate.MaxListLimit))
		}
		q.Limit = n
	}
	if h.Fleet == nil {
		return unavailable(errors.New("no fleet listing configured"))
	}
	p, err := h.Fleet.List(ctx, q)
	switch {
	case errors.Is(err, streamstate.ErrBadListCursor):
		return badRequest(errors.New("bad cursor: pass back the nextCursor of a previous answer for the same statuses and workspace"))
	case errors.Is(err, streamstate.ErrBadListQuery):
		// Checked above; a store that refuses more says why in the log.
		return http.StatusBadRequest, queryError{"bad query: status, workspace, limit or cursor out of range"}, err
	case err != nil:
		return unavailable(err)
	}
	page := FleetPage{Streams: p.Streams, NextCursor: p.NextCursor}
	if page.Streams == nil {
		page.Streams = []streamstate.Listed{}
	}
	for i := range page.Streams {
		if page.Streams[i].SimulcastTargets == nil {
			page.Streams[i].SimulcastTargets = map[string]streamstate.ListedTarget{}
		}
	}
	return http.StatusOK, page, nil
}
