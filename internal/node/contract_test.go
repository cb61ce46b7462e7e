package node

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/testutil/fixture"
)

// renderedClusterConfig is bootstrap/cluster.json as Terraform wrote it:
// the content of aws_s3_object.cluster_config in the state of a real apply
// of the local environment (internal/cost/testdata/make-state.sh).
func renderedClusterConfig(t *testing.T) []byte {
	t.Helper()
	st := fixture.State(t, "../cost/testdata/states/local.state.json.gz")
	var find func(m *tfjson.StateModule) string
	find = func(m *tfjson.StateModule) string {
		for _, r := range m.Resources {
			if r.Address == "aws_s3_object.cluster_config" {
				s, _ := r.AttributeValues["content"].(string)
				return s
			}
		}
		for _, c := range m.ChildModules {
			if s := find(c); s != "" {
				return s
			}
		}
		return ""
	}
	content := find(st.Values.RootModule)
	if content == "" {
		t.Fatal("the state fixture holds no aws_s3_object.cluster_config content")
	}
	return []byte(content)
}

// clusterKeys are the JSON names of the agent's Cluster fields.
func clusterKeys() []string {
	var keys []string
	ty := reflect.TypeFor[Cluster]()
	for i := range ty.NumField() {
		name, _, _ := strings.Cut(ty.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return slices.Sorted(slices.Values(keys))
}

// The contract between the root module and the agent: what Terraform
// renders decodes strictly (no key the agent does not know), validates
// (every required key is there), and has every key the agent reads. A key
// the agent treats as optional, for a bucket an older build wrote, is still
// one today's modules render.
func TestRenderedClusterConfigDecodesStrictly(t *testing.T) {
	raw := renderedClusterConfig(t)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c Cluster
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("Terraform's cluster_config does not decode strictly into node.Cluster: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Terraform's cluster_config: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range clusterKeys() {
		if _, ok := m[k]; !ok {
			t.Errorf("Terraform's cluster_config lacks %s, which the agent reads: render it in terraform/cluster/bootstrap.tf, then regenerate the state fixture (internal/cost/testdata/make-state.sh)", k)
		}
	}
}

// testdata/cluster.json, which the agent's other tests use, has exactly the
// keys the agent reads plus the one unknown key that shows unknown keys are
// ignored, and every key Terraform renders.
func TestClusterTestdataMatchesTheRenderedKeys(t *testing.T) {
	var rendered, hand map[string]any
	if err := json.Unmarshal(renderedClusterConfig(t), &rendered); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/cluster.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &hand); err != nil {
		t.Fatal(err)
	}
	delete(hand, "extra_key_from_node_config")
	if got, want := slices.Sorted(maps.Keys(hand)), clusterKeys(); !slices.Equal(got, want) {
		t.Errorf("testdata/cluster.json keys %v\nkeys the agent reads      %v", got, want)
	}
	for k := range rendered {
		if _, ok := hand[k]; !ok {
			t.Errorf("Terraform renders %s, which testdata/cluster.json lacks", k)
		}
	}
}
