package graph

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The plan fixtures are shared with internal/cost, which documents how to
// regenerate them (testdata/make-plans.sh there).
func readPlan(t *testing.T, env string) *tfjson.Plan {
	t.Helper()
	path := filepath.Join("..", "cost", "testdata", "plans", env+".plan.json.gz")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("opening plan fixture: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var plan tfjson.Plan
	if err := json.Unmarshal(data, &plan); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return &plan
}

func TestGoldenDOT(t *testing.T) {
	got, err := FromPlan(readPlan(t, "local"), Options{StateBucket: "kforge-local-tfstate"})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "local.dot")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file: %v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("DOT differs from %s; if intended run go test ./internal/graph/ -update and review.\ngot:\n%s", golden, got)
	}
}

// TestArchitecture checks what the drawing must show for every example
// environment, independent of layout details.
func TestArchitecture(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{"local", []string{`"registrar" -> "module.dns.aws_route53_zone.this[0]"`, ":80 → node port 30080", ":443 → node port 30443",
			"Worker pool general (ASG)", "min 1 / desired 1 / max 2", "Control plane (ASG)", "EFS mount target", "us-east-1a", "us-east-1b", "IAM role", "KMS key"}},
		{"prod", []string{"NAT gateway", "Worker pool batch (ASG)", "min 0 / desired 0 / max 6", "c7i.xlarge", "m7i.large, m6i.large", "eu-west-1c", "private subnet"}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			got, err := FromPlan(readPlan(t, tt.env), Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
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
