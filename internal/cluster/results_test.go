package cluster

import (
	"encoding/json"
	"testing"

	"github.com/kforge/kforge/internal/sweep"
	"github.com/kforge/kforge/internal/tfrun"
)

// The plan's JSON keeps the shape `kforge plan --output json` has always
// printed: environment, changes, summary, plan_file, and the disruptions,
// a list even when there are none.
func TestPlanResultJSON(t *testing.T) {
	res := &PlanResult{Env: "dev", Plan: &tfrun.PlanResult{Changes: true, File: "/work/dev.tfplan"}, Text: "full plan"}
	data, got := jsonFields(t, res)
	if ds, ok := got["disruptions"].([]any); len(got) != 5 || got["environment"] != "dev" || got["changes"] != true ||
		got["plan_file"] != "/work/dev.tfplan" || got["summary"] == nil || !ok || len(ds) != 0 {
		t.Errorf("plan JSON %s", data)
	}
}

// The orphans' JSON keeps its shape: deleted is a count, kept only when any.
func TestOrphansResultJSON(t *testing.T) {
	res := &OrphansResult{Env: "dev", Orphans: []sweep.Resource{{Kind: "ec2:vpc", ID: "vpc-1"}},
		Deleted: &sweep.Result{Deleted: []sweep.Resource{{Kind: "ec2:vpc", ID: "vpc-1"}}}}
	data, got := jsonFields(t, res)
	if len(got) != 3 || got["environment"] != "dev" || got["deleted"] != 1.0 || len(got["orphans"].([]any)) != 1 {
		t.Errorf("orphans JSON %s", data)
	}
}

// jsonFields is v as JSON, and that JSON's top-level fields.
func jsonFields(t *testing.T, v any) ([]byte, map[string]any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	return data, got
}
