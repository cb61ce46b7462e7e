package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/testutil/golden"
)

// goldenEndpointURL is the emulator endpoint rendered into the examples of
// environments with emulator: true (the CLI passes the real one).
const goldenEndpointURL = "http://127.0.0.1:5000"

const examplesDir = "../../terraform/cluster/examples"

// TestRenderExamples renders every envs/<env>.yaml and compares it byte for
// byte with terraform/cluster/examples/<env>.tfvars.json; -update rewrites them.
func TestRenderExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(envsDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rendered := 0
	for _, file := range files {
		env := strings.TrimSuffix(filepath.Base(file), ".yaml")
		if env == "base" {
			continue
		}
		rendered++
		t.Run(env, func(t *testing.T) {
			c, err := LoadEnv(envsDir, env)
			if err != nil {
				t.Fatal(err)
			}
			opts := RenderOptions{}
			if c.Emulator {
				opts.EndpointURL = goldenEndpointURL
			}
			got, err := c.TFVarsJSON(opts)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, filepath.Join(examplesDir, env+".tfvars.json"), got)
		})
	}
	if rendered < 4 {
		t.Errorf("rendered %d environments, want dev, staging, prod and local", rendered)
	}
}

// TestTFVarsMatchRootModuleVariables checks that the rendered keys are
// exactly the root module's variables, so a renamed variable fails here.
func TestTFVarsMatchRootModuleVariables(t *testing.T) {
	declared, err := declaredVariables("terraform/cluster")
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadEnv(envsDir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.TFVarsJSON()
	if err != nil {
		t.Fatal(err)
	}
	var vars map[string]any
	if err := json.Unmarshal(out, &vars); err != nil {
		t.Fatal(err)
	}
	names := Inputs{}.Names()
	if len(names) != len(vars) {
		t.Errorf("Inputs has %d fields, the rendered file %d variables", len(names), len(vars))
	}
	for name := range vars {
		if !declared[name] {
			t.Errorf("rendered %s, which terraform/cluster/variables.tf does not declare", name)
		}
	}
	for name := range declared {
		if _, ok := vars[name]; !ok {
			t.Errorf("variable %s is declared but not rendered", name)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("the fields of Inputs are not in the order of their names: %v", names)
	}
	pool := vars["worker_pools"].(map[string]any)["general"].(map[string]any)
	for _, k := range []string{"instance_types", "min_size", "desired_size", "max_size", "volume_size", "labels", "taints"} {
		if _, ok := pool[k]; !ok {
			t.Errorf("worker pool attribute %s not rendered", k)
		}
	}
}

func TestRenderOptions(t *testing.T) {
	c, err := LoadEnv(envsDir, "local")
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.TFVarsJSON(RenderOptions{AgentBinaryPaths: map[string]string{"amd64": "/tmp/kforge & co"}, EndpointURL: "http://127.0.0.1:41234", NodeConfig: `{"a":1}`})
	if err != nil {
		t.Fatal(err)
	}
	var vars map[string]any
	if err := json.Unmarshal(out, &vars); err != nil {
		t.Fatal(err)
	}
	if agents, _ := vars["agent_binary_paths"].(map[string]any); agents["amd64"] != "/tmp/kforge & co" || vars["aws_endpoint_url"] != "http://127.0.0.1:41234" || vars["node_config"] != `{"a":1}` {
		t.Errorf("options not rendered: %v %v %v", vars["agent_binary_paths"], vars["aws_endpoint_url"], vars["node_config"])
	}
	if !bytes.Contains(out, []byte(`"/tmp/kforge & co"`)) {
		t.Error("HTML escaping must be off so paths stay readable")
	}
	if !bytes.HasSuffix(out, []byte("}\n")) || !bytes.HasPrefix(out, []byte("{\n  \"")) {
		t.Errorf("want 2-space indent and a trailing newline:\n%s", out)
	}
}

// TestSupportedMinorsInTerraform renders the supported Kubernetes minors
// into the root module (terraform/cluster/kubernetes_versions.tf), whose
// kubernetes_version validation refuses any other: the list stays in
// versions.go, and `make golden` rewrites the file after a change there.
func TestSupportedMinorsInTerraform(t *testing.T) {
	var minors []string
	for _, r := range SupportedKubernetesVersions() {
		minors = append(minors, strconv.Quote(r.Minor))
	}
	got := fmt.Sprintf(`# Rendered from internal/config/versions.go by TestSupportedMinorsInTerraform;
# make golden rewrites it. Do not edit.

locals {
  # The Kubernetes minor releases kforge installs.
  supported_kubernetes_minors = [%s]
}
`, strings.Join(minors, ", "))
	golden.Assert(t, "../../terraform/cluster/kubernetes_versions.tf", []byte(got))
}
