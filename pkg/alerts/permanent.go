package alerts

import (
	"errors"

	"github.com/aws/smithy-go"
)

// permanentCodes are SNS's answers that no retry of the same publish can
// change: the role may not publish to the topic (or use its key), the
// topic does not exist, or the request itself is invalid. Throttling,
// SNS's own failures and the network are worth a retry; these are not,
// until an operator fixes the cause.
var permanentCodes = map[string]bool{
	"AuthorizationError": true,
	"NotFound":           true,
	"NotFoundException":  true,
	// goaws (make run's SNS) answers a publish to a missing topic with this
	// code where SNS says NotFound: the same answer, so the local stack
	// takes the same path as AWS.
	"AWS.SimpleNotificationService.NonExistentTopic": true,
	"InvalidParameter":      true,
	"InvalidParameterValue": true,
	"ParameterValueInvalid": true,
	"ValidationException":   true,
	"InvalidSecurity":       true,
	"KMSAccessDenied":       true,
	"KMSDisabled":           true,
	"KMSInvalidState":       true,
	"KMSNotFound":           true,
	"KMSOptInRequired":      true,
}

// Permanent says whether err, from Publish, is an answer no retry can
// change (and names it). A publish that failed permanently is kept aside
// for an operator instead of being retried.
func Permanent(err error) (string, bool) {
	var api smithy.APIError
	if errors.As(err, &api) && permanentCodes[api.ErrorCode()] {
		return api.ErrorCode(), true
	}
	return "", false
}
