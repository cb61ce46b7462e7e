package cluster

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/sweep"
	"github.com/kforge/kforge/internal/tfrun"
)

// ruleIDPattern finds the security group rule IDs a failed destroy names
// ("deleting VPC Security Group Rule (sgr-…)").
var ruleIDPattern = regexp.MustCompile(`Security Group Rule \((sgr-[0-9a-f]+)\)`)

// serverErrorPattern matches an AWS call that still failed with a 5xx
// after the SDK's retries ("https response error StatusCode: 500").
var serverErrorPattern = regexp.MustCompile(`StatusCode: 5\d\d\b`)

// destroyRecoveringLostAnswers destroys what the state holds and heals the
// two ways a destroy fails on the answer to an earlier delete that was
// lost (a dropped connection: the SDK retries, and the retry meets what
// its first attempt did):
//
//   - a security group rule already gone (InvalidPermission.NotFound, or
//     the emulator's race in docs/EMULATOR-NOTES.md): those rules leave
//     the state, since there is nothing left to delete, the mirror of up's
//     adoption of rules that exist unrecorded;
//   - a server error (HTTP 5xx after the SDK's retries): AWS answers a
//     repeated RemoveRoleFromInstanceProfile with NoSuchEntity, which the
//     provider takes as done, but the emulator with a 500; and AWS's own
//     5xx are transient by definition. The destroy runs once more, as an
//     operator would.
//
// It also heals the one failure the running cluster causes: the EFS CSI
// driver may provision a volume between down's deletion of the access
// points and the nodes' termination, and AWS refuses to delete a file
// system that has an access point. Those access points are deleted (and
// returned), and the destroy runs once more.
//
// Each further round must forget a rule or be the one retry after a server
// error or after late access points; any other failure is returned as it is.
func (e *Env) destroyRecoveringLostAnswers(ctx context.Context, r destroyer, total int, progress func(tfrun.Progress)) ([]sweep.Resource, error) {
	err := r.Destroy(ctx, total, progress)
	retriedServerError, retriedAccessPoints := false, false
	var swept []sweep.Resource
	for err != nil {
		msg := err.Error()
		rules := strings.Contains(msg, "InvalidPermission.NotFound")
		server := !retriedServerError && serverErrorPattern.MatchString(msg)
		fileSystem := !retriedAccessPoints && strings.Contains(msg, "deleting EFS File System (")
		if !rules && !server && !fileSystem {
			return swept, err
		}
		st, serr := r.State(ctx)
		if serr != nil {
			return swept, errors.Join(err, serr)
		}
		left := ManagedResources(st)
		if lost := lostRuleAddresses(st, msg); rules && len(lost) > 0 {
			if serr := r.StateRm(ctx, lost...); serr != nil {
				return swept, errors.Join(err, fmt.Errorf("forgetting security group rules that are already gone: %w", serr))
			}
			left -= len(lost)
			e.opts.UI.Notef("%d security group rule(s) were already gone; forgot them, destroying the rest.\n", len(lost))
		} else if server {
			retriedServerError = true
			e.opts.UI.Notef("A delete failed with a server error (%s); destroying the remaining %d resources once more.\n", serverErrorPattern.FindString(msg), left)
		} else if late, aerr := e.deleteLateAccessPoints(ctx, st); aerr != nil {
			return swept, errors.Join(err, aerr)
		} else if len(late) > 0 {
			retriedAccessPoints = true
			swept = append(swept, late...)
		} else {
			return swept, err
		}
		err = r.Destroy(ctx, left, progress)
	}
	return swept, nil
}

// destroyer is what destroyRecoveringLostAnswers needs of tfrun.Runner.
type destroyer interface {
	Destroy(ctx context.Context, total int, progress func(tfrun.Progress)) error
	State(ctx context.Context) (*tfjson.State, error)
	StateRm(ctx context.Context, addresses ...string) error
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
