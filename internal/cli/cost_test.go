package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/testutil/fixture"
)

// planJSON writes a plan fixture of internal/cost (a real terraform plan
// against the emulator) as plain JSON, as `terraform show -json` prints it.
func planJSON(t *testing.T, env string) string {
	t.Helper()
	data := fixture.Gunzip(t, filepath.Join("..", "cost", "testdata", "plans", env+".plan.json.gz"))
	path := filepath.Join(t.TempDir(), env+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runKforge(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	args = append([]string{"--envs-dir", filepath.Join("..", "..", "envs"), "--workdir", t.TempDir()}, args...)
	code = Execute(context.Background(), app, args)
	return code, out.String(), errb.String()
}

func TestCostAndGraphFromPlanFile(t *testing.T) {
	dev := planJSON(t, "dev")
	notAPlan := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(notAPlan, []byte(`{"format_version":"1.2"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("..", "cost", "testdata", "golden", "dev.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stdout (or stderr when the code is not 0)
	}{
		{"cost text", []string{"cost", "dev", "--plan", dev}, 0, string(golden)},
		{"cost json", []string{"cost", "dev", "--plan", dev, "--output", "json"}, 0, `"eks": {`},
		{"graph dot", []string{"graph", "dev", "--plan", dev}, 0, "digraph kforge"},
		{"unknown env", []string{"cost", "nosuch", "--plan", dev}, 2, "nosuch"},
		{"missing plan file", []string{"cost", "dev", "--plan", filepath.Join(t.TempDir(), "none.json")}, 2, "--plan"},
		{"another environment's plan", []string{"cost", "prod", "--plan", dev}, 2, "is a plan of environment dev, not prod"},
		{"graph of another environment's plan", []string{"graph", "staging", "--plan", dev}, 2, "is a plan of environment dev, not staging"},
		{"not a plan", []string{"cost", "dev", "--plan", notAPlan}, 2, "--plan " + notAPlan + ": the plan has no planned_values"},
		{"bad format", []string{"graph", "dev", "--format", "gif"}, 2, "--format must be one of dot, svg, png"},
		{"graph into a missing directory", []string{"graph", "dev", "--plan", dev, "--out", filepath.Join(t.TempDir(), "none", "x.dot")}, 2, "does not exist"},
		{"bad from", []string{"graph", "dev", "--from", "wish"}, 2, "--from must be plan or state"},
		{"plan with state", []string{"graph", "dev", "--from", "state", "--plan", dev}, 2, "exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runKforge(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			where := stdout
			if code != 0 {
				where = stderr
			}
			if !strings.Contains(where, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, where)
			}
		})
	}
}
