package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/tfrun"
)

func TestExitCode(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailure},
		{UsageError("bad %s", "flag"), ExitUsage},
		{Failure("no %s", "cluster"), ExitFailure},
		{fmt.Errorf("opening: %w", UsageError("bad")), ExitUsage},
		{fmt.Errorf("loading: %w", &config.ValidationError{Errors: []config.FieldError{{Field: "name"}}}), ExitUsage},
		{fmt.Errorf("apply: %w", tfrun.ErrInterrupted), ExitInterrupted},
		{&ExitError{Code: 2, Err: errors.New("the plan has changes"), Silent: true}, 2},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// The plan's JSON keeps the shape `kforge plan --output json` has always
// printed: environment, changes, summary, plan_file, and nothing else.
func TestPlanResultJSON(t *testing.T) {
	res := &PlanResult{Env: "dev", Plan: &tfrun.PlanResult{Changes: true, File: "/work/dev.tfplan"}, Text: "full plan"}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got["environment"] != "dev" || got["changes"] != true || got["plan_file"] != "/work/dev.tfplan" || got["summary"] == nil {
		t.Errorf("plan JSON %s", data)
	}
}
