package alerts_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/streamhook/fastpix-receiver/pkg/alerts"
)

func TestPermanent(t *testing.T) {
	api := func(code string, fault smithy.ErrorFault) error {
		return fmt.Errorf("%w: to arn: %w", alerts.ErrPublish, &smithy.GenericAPIError{Code: code, Message: "m", Fault: fault})
	}
	tests := []struct {
		err  error
		want bool
	}{
		{api("AuthorizationError", smithy.FaultClient), true},
		{api("NotFound", smithy.FaultClient), true},
		{api("InvalidParameter", smithy.FaultClient), true},
		{api("KMSAccessDenied", smithy.FaultClient), true},
		{api("Throttling", smithy.FaultClient), false},
		{api("KMSThrottling", smithy.FaultClient), false},
		{api("InternalError", smithy.FaultServer), false},
		{api("ServiceUnavailable", smithy.FaultServer), false},
		{context.DeadlineExceeded, false},
		{errors.New("connection refused"), false},
	}
	for _, tc := range tests {
		if code, got := alerts.Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %q, %v; want %v", tc.err, code, got, tc.want)
		}
	}
}
