package cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/exitcode"
)

// Some quotas are compared with the saved plan rather than with the
// configuration: what the plan creates is the exact need, on a first apply
// and on a later one alike, and the rest of the account or region is
// counted whole, the cluster's own included. The account's IAM quotas
// (iamquotas.go) and the region's load balancer quotas (lbquotas.go) are;
// on AWS a full one stops the apply part way, with what it created before
// left behind, and the emulator enforces neither.

// PlanShortfall is a quota the plan's new resources would pass.
type PlanShortfall struct {
	// What names the plan's new resources ("2 IAM roles": "IAM roles").
	What string
	// Name is the quota's name in Service Quotas, Service its service
	// code, and Code its quota code where known.
	Name, Service, Code string
	// Holder is what the quota counts in: "the account", or a region.
	Holder string
	// RequestRegion is where Service Quotas takes a request to raise it.
	RequestRegion string
	// Fails is the error the create past the quota gets.
	Fails             string
	Need, Used, Quota int
}

// Message is the shortfall as one line for the operator: what the plan
// creates, what is already held, where the apply would stop, and how to
// get more.
func (s PlanShortfall) Message(env string) string {
	ask := fmt.Sprintf("ask for more in Service Quotas (service %s, %q, in %s)", s.Service, s.Name, s.RequestRegion)
	if s.Code != "" {
		ask = fmt.Sprintf("ask for more: aws service-quotas request-service-quota-increase --region %s --service-code %s --quota-code %s --desired-value %d",
			s.RequestRegion, s.Service, s.Code, s.Used+s.Need)
	}
	return fmt.Sprintf("%s's plan creates %d %s, and %s already holds %d of its quota of %d (%q): "+
		"the apply would fail at the first one past it with %s, leaving what it created before. Delete unused ones, or %s",
		env, s.Need, s.What, s.Holder, s.Used, s.Quota, s.Name, s.Fails, ask)
}

// planCreates counts what the plan creates of each resource type: a
// create, or a replacement that creates before it destroys (which holds
// both for a moment). A replacement that destroys first frees its own.
func planCreates(plan *tfjson.Plan) map[string]int {
	creates := map[string]int{}
	for _, rc := range plan.ResourceChanges {
		if rc.Mode != tfjson.ManagedResourceMode || rc.Change == nil {
			continue
		}
		if rc.Change.Actions.Create() || rc.Change.Actions.CreateBeforeDestroy() {
			creates[rc.Type]++
		}
	}
	return creates
}

// plural is one where n is 1, else several.
func plural(n int, one, several string) string {
	if n == 1 {
		return one
	}
	return several
}

// checkPlanQuotas compares what the saved plan creates with the account's
// IAM quotas and the region's load balancer quotas, for up (refuse: a
// shortfall stops the command before anything is applied) or plan (a
// warning); a failed read is a note, never a failure of the command.
func (e *Env) checkPlanQuotas(ctx context.Context, plan *tfjson.Plan, refuse bool) error {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		e.opts.UI.Notef("note: the account's IAM quotas and the region's load balancer quotas were not checked: %v\n", err)
		return nil
	}
	creates := planCreates(plan)
	var lines []string
	checks := []struct {
		what  string
		check func() ([]PlanShortfall, error)
	}{
		{"the account's IAM quotas (roles, instance profiles, policies)", func() ([]PlanShortfall, error) {
			return CheckIAMQuotas(ctx, iam.NewFromConfig(cfg), creates)
		}},
		{"the region's load balancer quotas (Network Load Balancers, target groups)", func() ([]PlanShortfall, error) {
			return CheckLoadBalancerQuotas(ctx, elasticloadbalancingv2.NewFromConfig(cfg), creates, e.Config.Region)
		}},
	}
	for _, c := range checks {
		short, err := c.check()
		if err != nil {
			e.opts.UI.Notef("note: %s were not checked: %v\n", c.what, err)
			continue
		}
		for _, s := range short {
			lines = append(lines, s.Message(e.Name))
		}
	}
	return e.shortfalls(lines, refuse)
}

// shortfalls refuses the command with lines, one quota each (refuse: up,
// before anything is applied), or prints each as a warning (plan).
func (e *Env) shortfalls(lines []string, refuse bool) error {
	switch {
	case len(lines) == 0:
		return nil
	case refuse:
		return exitcode.Failuref("%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		e.opts.UI.Notef("warning: %s\n", l)
	}
	return nil
}
