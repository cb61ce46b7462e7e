package cluster

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/tfrun"
)

// ruleIDPattern finds the security group rule IDs a failed destroy names
// ("deleting VPC Security Group Rule (sgr-…)").
var ruleIDPattern = regexp.MustCompile(`Security Group Rule \((sgr-[0-9a-f]+)\)`)

// destroyForgettingLostRules destroys what the state holds. When the destroy
// fails because a security group rule it deletes is already gone
// (InvalidPermission.NotFound: the answer to an earlier delete was lost, or
// the emulator's race in docs/EMULATOR-NOTES.md), those rules leave the
// state, since there is nothing left to delete, and the destroy runs once
// more. It is the mirror of up's adoption of rules that exist unrecorded.
func (e *Env) destroyForgettingLostRules(ctx context.Context, r *tfrun.Runner, total int, progress func(tfrun.Progress)) error {
	err := r.Destroy(ctx, total, progress)
	if err == nil || !strings.Contains(err.Error(), "InvalidPermission.NotFound") {
		return err
	}
	st, serr := r.State(ctx)
	if serr != nil {
		return errors.Join(err, serr)
	}
	lost := lostRuleAddresses(st, err.Error())
	if len(lost) == 0 {
		return err
	}
	if serr := r.StateRm(ctx, lost...); serr != nil {
		return errors.Join(err, fmt.Errorf("forgetting security group rules that are already gone: %w", serr))
	}
	e.opts.UI.Notef("%d security group rule(s) were already gone; forgot them, destroying the rest.\n", len(lost))
	return r.Destroy(ctx, ManagedResources(st)-len(lost), progress)
}

// lostRuleAddresses returns the state addresses of the security group rules
// whose IDs msg names.
func lostRuleAddresses(st *tfjson.State, msg string) []string {
	ids := map[string]bool{}
	for _, m := range ruleIDPattern.FindAllStringSubmatch(msg, -1) {
		ids[m[1]] = true
	}
	var addrs []string
	walkManaged(st, func(res *tfjson.StateResource) {
		switch res.Type {
		case "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule":
			id, _ := res.AttributeValues["security_group_rule_id"].(string)
			if id == "" {
				id, _ = res.AttributeValues["id"].(string)
			}
			if ids[id] {
				addrs = append(addrs, res.Address)
			}
		}
	})
	return addrs
}
