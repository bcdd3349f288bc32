package localstack_test

import (
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
)

func TestFeedLine(t *testing.T) {
	tests := []struct {
		c    changefeed.Change
		want string
	}{
		{
			c: changefeed.Change{StreamID: "s-1", PreviousStatus: "connected", Status: "active", EventID: "ev-5",
				EventType: "video.live_stream.active", OccurredAt: "2024-04-02T11:19:57.722812836Z"},
			want: "2024-04-02 11:19:57.722Z  stream s-1: connected -> active  (video.live_stream.active ev-5)",
		},
		{
			// The first change of a target, on a test stream.
			c: changefeed.Change{StreamID: "s-1", SimulcastTargetID: "t-1", Status: "created", EventID: "ev-2",
				EventType: "video.live_stream.simulcast.created", OccurredAt: "2024-04-02T11:18:12.722812836Z", Test: true},
			want: "2024-04-02 11:18:12.722Z  stream s-1 target t-1 (test): (none) -> created  (video.live_stream.simulcast.created ev-2)",
		},
		{
			// A held drop, and a flapping encoder's session.
			c: changefeed.Change{StreamID: "s-1", PreviousStatus: "active", Status: "disconnected", EventID: "ev-6",
				EventType: "video.live_stream.disconnected", OccurredAt: "2024-04-02T11:20:00Z", Mark: "held", HeldUntil: "2024-04-02T11:20:30.000000000Z"},
			want: "2024-04-02 11:20:00.000Z  stream s-1: active -> disconnected [held until 2024-04-02T11:20:30.000000000Z]  (video.live_stream.disconnected ev-6)",
		},
		{
			c: changefeed.Change{StreamID: "s-1", PreviousStatus: "disconnected", Status: "active", EventID: "ev-7",
				EventType: "video.live_stream.active", OccurredAt: "2024-04-02T11:20:01Z", Mark: "unstable"},
			want: "2024-04-02 11:20:01.000Z  stream s-1: disconnected -> active [unstable]  (video.live_stream.active ev-7)",
		},
		{
			c:    changefeed.Change{StreamID: "s-1", PreviousStatus: "idle", Status: "deleted", EventID: "ev-9", EventType: "video.live_stream.deleted", OccurredAt: "odd"},
			want: "odd  stream s-1: idle -> deleted  (video.live_stream.deleted ev-9)",
		},
	}
	for _, tc := range tests {
		if got := localstack.FeedLine(tc.c); got != tc.want {
			t.Errorf("FeedLine(%+v)\n got %q\nwant %q", tc.c, got, tc.want)
		}
	}
}
