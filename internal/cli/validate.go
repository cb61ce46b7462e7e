package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/kforge/kforge/internal/wait"
)

// NodeState is one node's readiness as the API server reports it.
type NodeState struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
	Pool  string `json:"pool,omitempty"`
}

// ValidationResult is one round of `kforge validate`.
type ValidationResult struct {
	Nodes        []NodeState         `json:"nodes"`
	TargetGroups []TargetGroupStatus `json:"target_groups"`
	Problems     []string            `json:"problems"`
}

// OK reports whether nothing is wrong.
func (r ValidationResult) OK() bool { return len(r.Problems) == 0 }

// errNoAPIOnEmulator is returned before any check on an emulated cluster.
var errNoAPIOnEmulator = errors.New("validate needs the cluster's Kubernetes API server, and an emulated cluster has none: " +
	"the emulator records instances but boots nothing, so no node agent, kubelet or API server runs. " +
	"Nothing was validated; use `kforge status` for what the emulator does hold")

// requireAPIServer refuses, before any check, a cluster whose instances
// never boot (the emulator): exit code 1 with the reason.
func requireAPIServer(emulated bool) error {
	if emulated {
		return &ExitError{Code: ExitFailure, Err: errNoAPIOnEmulator}
	}
	return nil
}

// nodeReadiness lists nodes through GET /api/v1/nodes and decodes them with
// the k8s.io/api types.
func nodeReadiness(ctx context.Context, client *http.Client, server string) ([]NodeState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/api/v1/nodes", nil)
	if err != nil {
		return nil, fmt.Errorf("building nodes request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("listing nodes at %s: %w", server, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("reading nodes from %s: %w", server, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("listing nodes at %s: %s: %s", server, resp.Status, strings.TrimSpace(string(body)))
	}
	var list corev1.NodeList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decoding the node list: %w", err)
	}
	states := make([]NodeState, 0, len(list.Items))
	for _, n := range list.Items {
		s := NodeState{Name: n.Name, Pool: n.Labels["kforge.io/pool"]}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				s.Ready = c.Status == corev1.ConditionTrue
			}
		}
		states = append(states, s)
	}
	sort.Slice(states, func(i, j int) bool { return states[i].Name < states[j].Name })
	return states, nil
}

// targetHealth counts each target group's targets by state.
func targetHealth(ctx context.Context, client *elbv2.Client, arns map[string]string) ([]TargetGroupStatus, error) {
	var out []TargetGroupStatus
	for _, name := range sortedKeys(arns) {
		res, err := client.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arns[name])})
		if err != nil {
			return nil, fmt.Errorf("describing target health of %s: %w", name, err)
		}
		tg := TargetGroupStatus{Name: name, ARN: arns[name], States: map[string]int{}}
		for _, d := range res.TargetHealthDescriptions {
			tg.Targets++
			if d.TargetHealth != nil {
				tg.States[string(d.TargetHealth.State)]++
			}
		}
		out = append(out, tg)
	}
	return out, nil
}

// problems lists what keeps the cluster from being valid.
func (r *ValidationResult) evaluate() {
	r.Problems = nil
	if len(r.Nodes) == 0 {
		r.Problems = append(r.Problems, "no node has registered")
	}
	for _, n := range r.Nodes {
		if !n.Ready {
			r.Problems = append(r.Problems, "node "+n.Name+" is not Ready")
		}
	}
	for _, tg := range r.TargetGroups {
		if tg.Targets == 0 {
			r.Problems = append(r.Problems, "target group "+tg.Name+" has no targets")
		} else if tg.States["healthy"] != tg.Targets {
			r.Problems = append(r.Problems, fmt.Sprintf("target group %s: %d of %d targets healthy", tg.Name, tg.States["healthy"], tg.Targets))
		}
	}
}

func newValidateCmd(app *App) *cobra.Command {
	var waitFor, interval time.Duration
	cmd := &cobra.Command{
		Use:   "validate <env>",
		Short: "Check that every node is Ready and every NLB target healthy, waiting up to --wait",
		Args:  envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if waitFor < 0 || interval <= 0 {
				return UsageError("--wait must be >= 0 and --interval > 0")
			}
			ctx := cmd.Context()
			e, err := app.OpenEnv(ctx, args[0])
			if err != nil {
				return err
			}
			out, ok, err := e.Outputs(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("environment %q has no applied cluster: run `kforge up %s` first", args[0], args[0])}
			}
			if err := requireAPIServer(out.Emulated); err != nil {
				return err
			}
			kc, err := app.fetchKubeconfig(ctx, args[0], true)
			if err != nil {
				return err
			}
			client, server, err := kc.HTTPClient()
			if err != nil {
				return err
			}
			cfg, err := e.AWSConfig(ctx)
			if err != nil {
				return err
			}
			lb := elbv2.NewFromConfig(cfg)
			deadline := time.Now().Add(waitFor)
			for {
				var r ValidationResult
				nodes, nerr := nodeReadiness(ctx, client, server)
				r.Nodes = nodes
				tgs, terr := targetHealth(ctx, lb, out.TargetGroupARNs)
				r.TargetGroups = tgs
				r.evaluate()
				for _, err := range []error{nerr, terr} {
					if err != nil {
						r.Problems = append(r.Problems, err.Error())
					}
				}
				if r.OK() || !time.Now().Before(deadline) {
					if app.JSON() {
						if err := app.PrintJSON(r); err != nil {
							return err
						}
					} else {
						for _, n := range r.Nodes {
							app.Printf("node %-50s ready=%v pool=%s\n", n.Name, n.Ready, n.Pool)
						}
						for _, tg := range r.TargetGroups {
							app.Printf("target group %-6s %d targets %v\n", tg.Name, tg.Targets, tg.States)
						}
					}
					if r.OK() {
						app.Notef("cluster %s is valid\n", args[0])
						return nil
					}
					return &ExitError{Code: ExitFailure, Err: fmt.Errorf("cluster %s is not valid after %s: %s", args[0], waitFor, strings.Join(r.Problems, "; "))}
				}
				app.Notef("not valid yet (%s); retrying in %s\n", strings.Join(r.Problems, "; "), interval)
				if err := wait.Sleep(ctx, interval); err != nil {
					return err
				}
			}
		},
	}
	cmd.Flags().DurationVar(&waitFor, "wait", 0, "keep checking for this long (for example 10m) before failing")
	cmd.Flags().DurationVar(&interval, "interval", 15*time.Second, "time between checks while waiting")
	return cmd
}
