package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/addons"
)

// 23. The API server, running kforge's admission policy from the add-on
// manifests, admits a Service of type LoadBalancer with a warning that says
// nothing will provision it and names the Ingress instead; Services of the
// other types are admitted without it.
func checkLoadBalancerServiceWarning(t *testing.T, e *env, _ artifacts) {
	create := func(kind, name string) (string, error) {
		return e.kubectl("create", "service", kind, name, "--tcp=80:8080", "--dry-run=server", "-n", "default")
	}
	warned := func(out string) bool {
		return strings.Contains(out, "Warning:") && strings.Contains(out, addons.LoadBalancerServiceWarning) &&
			strings.Contains(out, "kforge-no-load-balancer-services")
	}
	// A new policy takes effect once the API server has loaded it.
	var out string
	err := waitFor(time.Minute, func() error {
		var err error
		if out, err = create("loadbalancer", "web"); err != nil {
			return fmt.Errorf("a Service of type LoadBalancer was refused: %w", err)
		}
		if !warned(out) {
			return fmt.Errorf("no warning: %s", out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kforge's policy never warned of a Service of type LoadBalancer: %v", err)
	}
	for _, kind := range []string{"clusterip", "nodeport"} {
		out, err := create(kind, "web-"+kind)
		if err != nil {
			t.Errorf("a Service of type %s was refused: %v", kind, err)
		} else if strings.Contains(out, "Warning:") {
			t.Errorf("a Service of type %s drew a warning: %s", kind, out)
		}
	}
}
