package terraform

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	kforge "github.com/kforge/kforge"
)

// TestCreateOrderInGraph holds the root module's graph to orderings AWS
// needs and no reference implies (the emulator never fails on order):
//   - the internet-facing NLB after the internet gateway is attached
//     (CreateLoadBalancer: InvalidSubnet "has no internet gateway", not
//     retried by the provider);
//   - every Auto Scaling group after the routes, the NAT gateway and the S3
//     endpoint of its subnets, the node roles' policy attachments and its
//     own group's egress rules: a node booting before them has no way out;
//   - the agents and cluster.json after the certs bucket's versioning: the
//     launch templates pin the agent's version id, which an object written
//     before versioning is on does not get.
func TestCreateOrderInGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping terraform init in -short mode")
	}
	pluginDir := pluginDirOrSkip(t)
	terraformBin := terraformOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := t.TempDir()
	if err := os.CopyFS(work, kforge.Terraform); err != nil {
		t.Fatal(err)
	}
	tf := initLocalBackend(t, ctx, terraformBin, pluginDir, filepath.Join(work, "terraform", "cluster"))
	dot, err := tf.Graph(ctx)
	if err != nil {
		t.Fatalf("terraform graph: %v", err)
	}
	g := parseGraph(dot)
	if len(g) == 0 {
		t.Fatalf("no edges in the graph:\n%s", dot)
	}

	need := func(from string, to ...string) {
		t.Helper()
		if _, ok := g[from]; !ok {
			t.Errorf("%s is not in the graph", from)
			return
		}
		for _, target := range to {
			if !g.reaches(from, target) {
				t.Errorf("%s is not ordered after %s", from, target)
			}
		}
	}
	need("module.ingress.aws_lb.this", "module.network.aws_internet_gateway.this", "module.network.aws_route.public_internet")
	for _, group := range []string{"module.control_plane", "module.workers"} {
		need(group+".aws_autoscaling_group.this",
			"module.network.aws_route_table_association.public", "module.network.aws_route_table_association.private",
			"module.network.aws_nat_gateway.this", "module.network.aws_route.private_nat", "module.network.aws_vpc_endpoint.s3",
			"module.iam.aws_iam_role_policy_attachment.this",
			group+".aws_vpc_security_group_egress_rule.https", group+".aws_vpc_security_group_egress_rule.nfs")
	}
	for _, object := range []string{"aws_s3_object.agent", "aws_s3_object.cluster_config"} {
		need(object, "module.buckets.aws_s3_bucket_versioning.certs")
	}
}

// initLocalBackend runs terraform init in the root module at dir with a
// local backend instead of S3, for tests that plan or read the graph only.
func initLocalBackend(t *testing.T, ctx context.Context, bin, pluginDir, dir string) *tfexec.Terraform {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "backend_override.tf"), []byte("terraform {\n  backend \"local\" {}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tf := newTerraform(t, bin, dir)
	if err := tf.Init(ctx, tfexec.PluginDir(pluginDir)); err != nil {
		t.Fatalf("terraform init: %v", err)
	}
	return tf
}

// graph is a DOT graph's edges, by resource address.
type graph map[string][]string

var dotEdge = regexp.MustCompile(`"([^"]+)"\s*->\s*"([^"]+)"`)

// parseGraph reads `terraform graph`'s edges, naming nodes by address
// ("[root] module.x.aws_y.z (expand)" as "module.x.aws_y.z").
func parseGraph(dot string) graph {
	name := func(s string) string {
		s = strings.TrimPrefix(s, "[root] ")
		if i := strings.Index(s, " ("); i >= 0 {
			s = s[:i]
		}
		return s
	}
	g := graph{}
	for _, m := range dotEdge.FindAllStringSubmatch(dot, -1) {
		from, to := name(m[1]), name(m[2])
		g[from] = append(g[from], to)
		if _, ok := g[to]; !ok {
			g[to] = nil
		}
	}
	return g
}

// reaches says whether from depends on to, directly or through others.
func (g graph) reaches(from, to string) bool {
	seen := map[string]bool{from: true}
	for queue := []string{from}; len(queue) > 0; queue = queue[1:] {
		for _, next := range g[queue[0]] {
			if next == to {
				return true
			}
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	return false
}
