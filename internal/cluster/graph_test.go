package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/testutil/fixture"
)

// Bad graph options are exit code 2 before the environment is even read.
func TestRunGraphRefusesBadOptions(t *testing.T) {
	cases := []struct {
		opts GraphOptions
		want string
	}{
		{GraphOptions{Format: "gif", From: "plan"}, "--format must be one of dot, svg, png"},
		{GraphOptions{Format: "dot", From: "apply"}, "--from must be plan or state"},
		{GraphOptions{Format: "dot", From: "state", PlanFile: "p.json"}, "--plan and --from state exclude each other"},
	}
	for _, tc := range cases {
		_, err := RunGraph(context.Background(), "local", tc.opts, Options{EnvsDir: filepath.Join(t.TempDir(), "none")})
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want exit 2 and %q", tc.opts, err, tc.want)
		}
	}
}

// A JSON plan is drawn without Terraform and without a cloud call; the
// format is case-insensitive; a typo in the environment's name is a validation error (exit 2).
func TestRunGraphFromAJSONPlan(t *testing.T) {
	file := filepath.Join(t.TempDir(), "local.plan.json")
	if err := os.WriteFile(file, fixture.Gunzip(t, filepath.Join("..", "cost", "testdata", "plans", "local.plan.json.gz")), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), UI: &recordingUI{}}
	res, err := RunGraph(context.Background(), "local", GraphOptions{Format: "DOT", From: "plan", PlanFile: file}, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != "dot" || res.From != "plan" || !strings.HasPrefix(string(res.Data), "digraph") || !strings.Contains(string(res.Data), "Control plane (ASG)") {
		t.Errorf("result %s/%s:\n%.300s", res.Format, res.From, res.Data)
	}
	if _, err := RunGraph(context.Background(), "nosuchenv", GraphOptions{Format: "dot", From: "plan", PlanFile: file}, o); !errors.As(err, new(*config.ValidationError)) {
		t.Errorf("unknown environment: %v, want exit 2", err)
	}
}

// The registrar drawn is the one the environment configures.
func TestGraphOptionsNameTheRegistrar(t *testing.T) {
	if got := graphOptions(nil); got.Registrar != "" || got.StateBucket != "" {
		t.Errorf("no environment: %+v", got)
	}
	for registrar, want := range map[string]string{"porkbun": "Porkbun", "route53": "parent Route 53 zone", "none": "your registrar (by hand)"} {
		e, err := Open(context.Background(), "local", NeedEmulator, Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: "http://127.0.0.1:1", UI: &recordingUI{}})
		if err != nil {
			t.Fatal(err)
		}
		e.Config.DNS.Registrar = registrar
		e.Config.State.Bucket = "demo-tfstate"
		if got := graphOptions(e); got.Registrar != want || got.StateBucket != "demo-tfstate" {
			t.Errorf("registrar %s: %+v, want %q", registrar, got, want)
		}
	}
}
