package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/lab"
	"github.com/kforge/kforge/internal/testutil/textlines"
)

// apiName is the local environment's API server name (api.<dns.domain>).
const apiName = "api.local.kforge.test"

// controllerGroup is the control plane's Auto Scaling Group.
const controllerGroup = clusterName + "-controller"

// apiForward returns the host's loopback forward to the API server,
// opening it the first time (it follows api.<domain> to a replacement).
func (c *cluster) apiForward() (*lab.Forward, error) {
	if c.api != nil {
		return c.api, nil
	}
	f, err := c.ForwardAPI(apiName)
	if err != nil {
		return nil, err
	}
	c.api = f
	return f, nil
}

// apiPort is the forward's local port, as kforge's --tunnel-port takes it.
func (c *cluster) apiPort() (string, error) {
	f, err := c.apiForward()
	if err != nil {
		return "", err
	}
	return f.Addr()[strings.LastIndex(f.Addr(), ":")+1:], nil
}

// controller returns the running control-plane instance's id and node.
func (c *cluster) controller(ctx context.Context) (string, *lab.Instance, error) {
	out, err := c.Fleet.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:aws:autoscaling:groupName"), Values: []string{controllerGroup}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
	}})
	if err != nil {
		return "", nil, fmt.Errorf("finding the control-plane instance: %w", err)
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			id := aws.ToString(i.InstanceId)
			return id, c.Fleet.Nodes()[id], nil
		}
	}
	return "", nil, fmt.Errorf("no running instance in %s", controllerGroup)
}

// adminKubeconfig copies the control plane's admin.conf to the host,
// pointed at the loopback forward (server name api.<domain>, so TLS still
// verifies the API server's certificate).
func (c *cluster) adminKubeconfig(ctx context.Context, n *lab.Instance, path string) error {
	conf, err := n.Exec(ctx, "cat", "/etc/kubernetes/admin.conf")
	if err != nil {
		return fmt.Errorf("reading admin.conf on the control plane: %w", err)
	}
	f, err := c.apiForward()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return err
	}
	_, err = c.kubectl(ctx, path, "config", "set-cluster", clusterName, "--server=https://"+f.Addr(), "--tls-server-name="+apiName)
	return err
}

// kubectl runs the package source's kubectl (the nodes' own) on the host.
func (c *cluster) kubectl(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	bin := filepath.Join(c.Fleet.Packages.Dir, "bin", "kubectl")
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig, "--request-timeout=20s"}, args...)...)
	// Standard output only: an APIService whose pods cannot run here
	// (metrics-server's) makes kubectl warn on standard error about API
	// discovery, which must not end up in parsed output.
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()+string(out)))
	}
	return string(out), nil
}

// nodeConditions maps each Node to its Ready condition's status.
func (c *cluster) nodeConditions(ctx context.Context, kubeconfig string) (map[string]string, error) {
	out, err := c.kubectl(ctx, kubeconfig, "get", "nodes", "-o",
		`jsonpath={range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			m[f[0]] = f[1]
		}
	}
	return m, nil
}

// readyWorkers lists the Nodes other than controlPlane that are Ready now:
// the ones a control-plane replacement must find Ready again (a NotReady
// Node an earlier scenario left, which the drainer's scan deletes later,
// is not one of them).
func (c *cluster) readyWorkers(t *testing.T, ctx context.Context, kubeconfig, controlPlane string) []string {
	t.Helper()
	conds, err := c.nodeConditions(ctx, kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var workers []string
	for name, ready := range conds {
		if name != controlPlane && ready == "True" {
			workers = append(workers, name)
		}
	}
	return workers
}

// waitNodesReady waits until every Node of names is Ready.
func (c *cluster) waitNodesReady(t *testing.T, ctx context.Context, kubeconfig, what string, names ...string) {
	t.Helper()
	waitFor(t, 10*time.Minute, what, func() (bool, string, error) {
		conds, err := c.nodeConditions(ctx, kubeconfig)
		if err != nil {
			return false, err.Error(), nil
		}
		for _, n := range names {
			if conds[n] != "True" {
				return false, fmt.Sprint(conds), nil
			}
		}
		return true, fmt.Sprint(conds), nil
	})
}

// workerGroup is the general pool's Auto Scaling Group (min 1, max 3; the
// lab runs it at 1), which the scaling scenarios grow and shrink.
const workerGroup = clusterName + "-general"

// groupInstances lists the instance ids the group holds.
func (c *cluster) groupInstances(ctx context.Context, group string) ([]string, error) {
	out, err := c.Fleet.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{group}})
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", group, err)
	}
	if len(out.AutoScalingGroups) != 1 {
		return nil, fmt.Errorf("no Auto Scaling Group %s", group)
	}
	var ids []string
	for _, i := range out.AutoScalingGroups[0].Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	sort.Strings(ids)
	return ids, nil
}

// setDesired sets the group's desired capacity, as Cluster Autoscaler does.
func (c *cluster) setDesired(ctx context.Context, group string, n int) error {
	if _, err := c.Fleet.AutoScaling.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(group), DesiredCapacity: aws.Int32(int32(n))}); err != nil {
		return fmt.Errorf("setting the desired capacity of %s to %d: %w", group, n, err)
	}
	return nil
}

// launchWorker raises the worker group by one and returns the instance it
// launched and that instance's node, once the lab booted it.
func (c *cluster) launchWorker(t *testing.T, ctx context.Context) (string, *lab.Instance) {
	t.Helper()
	before, err := c.groupInstances(ctx, workerGroup)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.setDesired(ctx, workerGroup, len(before)+1); err != nil {
		t.Fatal(err)
	}
	var id string
	waitFor(t, 5*time.Minute, "the group launched an instance and the lab booted it", func() (bool, string, error) {
		now, err := c.groupInstances(ctx, workerGroup)
		if err != nil {
			return false, err.Error(), nil
		}
		id = newInstance(now, before, "")
		return id != "" && c.Fleet.Nodes()[id] != nil, fmt.Sprintf("instances %v, launched %q", now, id), nil
	})
	return id, c.Fleet.Nodes()[id]
}

// newInstance returns the instance of now that is neither one of before
// nor old: the one its group launched since before, in old's place when
// old is set ("" when none).
func newInstance(now, before []string, old string) string {
	for _, id := range now {
		if !slices.Contains(before, id) && id != old {
			return id
		}
	}
	return ""
}

// waitNodeReady waits until the node's agent logged "node ready" and its
// Node object is Ready.
func (c *cluster) waitNodeReady(t *testing.T, ctx context.Context, kc, id string, n *lab.Instance) {
	t.Helper()
	name := nodeName(n.Spec)
	waitFor(t, 10*time.Minute, "node "+id+" ("+name+") Ready", func() (bool, string, error) {
		if !n.Running() {
			return false, "", fmt.Errorf("the node is no longer running; its console ends:\n%s", consoleTail(n))
		}
		conds, err := c.nodeConditions(ctx, kc)
		if err != nil {
			return false, err.Error(), nil
		}
		return conds[name] == "True", textlines.Last(agentLog(ctx, n), 3), nil
	})
}

// scaleBackIn returns the worker group to n instances and waits until the
// lab stopped the node of every instance that left it (after the drainer
// deleted its Node: hooks.go).
func (c *cluster) scaleBackIn(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	before, err := c.groupInstances(ctx, workerGroup)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.setDesired(ctx, workerGroup, n); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 12*time.Minute, fmt.Sprintf("%s back at %d instances, the others' nodes stopped", workerGroup, n), func() (bool, string, error) {
		now, err := c.groupInstances(ctx, workerGroup)
		if err != nil {
			return false, err.Error(), nil
		}
		running := 0
		for _, id := range before {
			if !slices.Contains(now, id) && c.Fleet.Nodes()[id] != nil {
				running++
			}
		}
		return len(now) == n && running == 0, fmt.Sprintf("instances %v, %d removed nodes still running", now, running), nil
	})
}
