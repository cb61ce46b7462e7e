package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/exitcode"
)

// ELB's refusals of a constrained zone, as users met them, get the setting
// that avoids the zone; other apply errors pass unchanged, and the exit
// code of the original error stays.
func TestExplainZoneRefusal(t *testing.T) {
	for _, msg := range []string{
		"creating ELBv2 network Load Balancer (kforge-ingress): operation error Elastic Load Balancing v2: CreateLoadBalancer, https response error StatusCode: 400, RequestID: 1, api error ValidationError: The following Availability Zones ap-northeast-1a cannot be associated with a load balancer. Please choose different AZs.",
		"api error ValidationError: The requested Availability Zone us-east-1b is constrained and cannot be used together with us-east-1c",
	} {
		err := explainZoneRefusal(exitcode.Failuref("%s", msg))
		if !strings.Contains(err.Error(), "network.excludeZoneIDs") || !strings.HasPrefix(err.Error(), msg) {
			t.Errorf("%q explained as:\n%v", msg, err)
		}
		var ee *exitcode.Error
		if !errors.As(err, &ee) || ee.Code != exitcode.Failure {
			t.Errorf("the explained error lost its exit code: %v", err)
		}
	}
	other := errors.New("creating EC2 Subnet: api error InvalidParameterValue: Value (us-east-1e) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: us-east-1a")
	if got := explainZoneRefusal(other); got != other {
		t.Errorf("an unrelated error was changed: %v", got)
	}
	if explainZoneRefusal(nil) != nil {
		t.Error("nil became an error")
	}
}
