package graph

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/kforge/kforge/internal/testutil/fixture"
	"github.com/kforge/kforge/internal/testutil/golden"
)

// The plan fixtures are shared with internal/cost, which documents how to
// regenerate them (testdata/make-plans.sh there).
func readPlan(t testing.TB, env string) *tfjson.Plan {
	t.Helper()
	return fixture.Plan(t, filepath.Join("..", "cost", "testdata", "plans", env+".plan.json.gz"))
}

func TestGoldenDOT(t *testing.T) {
	got, err := FromPlan(readPlan(t, "local"), Options{StateBucket: "kforge-local-tfstate"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, filepath.Join("testdata", "local.dot"), []byte(got))
}

// TestArchitecture checks what the drawing must show for every example
// environment, independent of layout: fixed facts, and each worker pool of
// the plan's own inputs with its sizes and instance types.
func TestArchitecture(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{"local", []string{`"registrar" -> "module.dns.aws_route53_zone.this[0]"`, ":80 → node port 30080", ":443 → node port 30443",
			"Control plane (ASG)", "min 1 / desired 1 / max 1", "EFS mount target", "us-east-1a", "us-east-1b", "IAM role", "KMS key", "public subnet"}},
		{"dev", []string{"eu-west-1a", "Network Load Balancer"}}, // one AZ
		{"prod", []string{"NAT gateway", "eu-west-1c", "private subnet", "default route"}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			plan := readPlan(t, tt.env)
			got, err := FromPlan(plan, Options{})
			if err != nil {
				t.Fatal(err)
			}
			pools, _ := plan.Variables["worker_pools"].Value.(map[string]any)
			if len(pools) == 0 {
				t.Fatal("plan has no worker_pools input")
			}
			want := tt.want
			for name, v := range pools {
				p := v.(map[string]any)
				var types []string
				for _, it := range p["instance_types"].([]any) {
					types = append(types, it.(string))
				}
				want = append(want,
					"Worker pool "+name+" (ASG)",
					fmt.Sprintf("min %v / desired %v / max %v", p["min_size"], p["desired_size"], p["max_size"]),
					strings.Join(types, ", "))
			}
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("DOT of %s lacks %q", tt.env, w)
				}
			}
		})
	}
}

func TestRender(t *testing.T) {
	if _, err := Render(context.Background(), "digraph{}", "gif"); err == nil || !strings.Contains(err.Error(), "dot, svg, png") {
		t.Errorf("unknown format error = %v", err)
	}
	if _, err := exec.LookPath("dot"); err != nil {
		t.Skip("graphviz dot not installed (apt-get install graphviz)")
	}
	src, err := FromPlan(readPlan(t, "local"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	png, err := Render(context.Background(), src, "png")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("not a PNG: % x", png[:8])
	}
	svg, err := Render(context.Background(), src, "svg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte("<svg")) {
		t.Error("not an SVG")
	}
}

// TestFromState draws an applied local cluster (state fixture of
// internal/cost): every pool with its instance type, mount targets placed
// in their zones by subnet id.
func TestFromState(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "cost", "testdata", "states", "local.state.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var state tfjson.State
	if err := json.NewDecoder(zr).Decode(&state); err != nil {
		t.Fatal(err)
	}
	got, err := FromState(&state, Options{StateBucket: "kforge-state"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Worker pool general (ASG)", "Worker pool system (ASG)", "t3.small, 30 GB gp3", "Control plane (ASG)",
		"subgraph cluster_az_0", "subgraph cluster_az_1", "kforge-state", ":443 → node port 30443"} {
		if !strings.Contains(got, w) {
			t.Errorf("DOT of the state lacks %q", w)
		}
	}
	if strings.Contains(got, "instance type unknown") {
		t.Error("a group's launch template was not resolved from the state")
	}
	if n := strings.Count(got, `"EFS mount target"`); n != 2 {
		t.Errorf("%d mount targets drawn, want 2", n)
	}
}
