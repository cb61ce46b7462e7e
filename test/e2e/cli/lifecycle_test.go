package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// TestLifecycle runs what a user runs against one emulator, applying the
// cluster once: init twice, up, status, output, plan (no drift), down twice.
func TestLifecycle(t *testing.T) {
	requireTools(t)
	if testing.Short() {
		t.Skip("skipping the full apply in -short mode")
	}
	// Modules may attach AWS-managed policies, which moto loads only on request.
	em := localawstest.StartForTest(t, "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	dir := t.TempDir()
	global := []string{"--envs-dir", filepath.Join(repoRoot, "envs"), "--workdir", filepath.Join(dir, ".kforge"), "--endpoint", em.URL()}
	run := func(timeout time.Duration, args ...string) result {
		t.Helper()
		return kforge(t, dir, timeout, append(append([]string{}, global...), args...)...)
	}
	mustJSON := func(r result, v any) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("want exit 0, got %s", r)
		}
		if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, r)
		}
	}

	// init, twice: the second finds the bucket and changes nothing.
	var init1, init2 struct {
		Bucket   string   `json:"state_bucket"`
		Created  bool     `json:"bucket_created"`
		Settings []string `json:"bucket_settings"`
	}
	mustJSON(run(2*time.Minute, "init", "local", "-o", "json"), &init1)
	mustJSON(run(2*time.Minute, "init", "local", "-o", "json"), &init2)
	if !init1.Created || init2.Created || init1.Bucket != init2.Bucket || init1.Bucket == "" {
		t.Fatalf("init twice: first %+v, second %+v; want created once, same bucket", init1, init2)
	}
	if len(init2.Settings) < 4 {
		t.Errorf("bucket settings re-applied = %v, want versioning, encryption, public access block, ownership", init2.Settings)
	}

	// up --yes: the whole cluster, with progress and an outputs table.
	up := run(10*time.Minute, "up", "local", "--yes")
	if up.code != 0 {
		t.Fatalf("up: %s", up)
	}
	for _, want := range []string{"Plan:", "Applied", "NLB DNS name", "name servers", "API endpoint", "certs bucket"} {
		if !strings.Contains(up.stdout, want) {
			t.Errorf("up's summary lacks %q:\n%s", want, up.stdout)
		}
	}
	if !strings.Contains(up.stderr, "created module.network.aws_vpc.this") {
		t.Errorf("up printed no progress line for the VPC:\n%s", up.stderr)
	}

	// output --json, parsed.
	var out map[string]any
	mustJSON(run(2*time.Minute, "output", "local", "--json"), &out)
	for _, k := range []string{"cluster_name", "vpc_id", "nlb_dns_name", "zone_id", "api_endpoint", "certs_bucket", "controller_asg_name", "efs_id", "kms_key_arn"} {
		if s, _ := out[k].(string); s == "" {
			t.Errorf("output %s is empty: %v", k, out[k])
		}
	}
	if out["emulated"] != true {
		t.Errorf("output emulated = %v, want true", out["emulated"])
	}
	if ns, _ := out["name_servers"].([]any); len(ns) == 0 {
		t.Errorf("no name servers in the outputs")
	}

	// status: live facts from the AWS API.
	var st struct {
		ControlPlane struct {
			Desired   int `json:"desired"`
			InService int `json:"in_service"`
		} `json:"control_plane"`
		Controllers []struct {
			State string `json:"state"`
		} `json:"control_plane_instances"`
		Pools []struct {
			Pool      string `json:"pool"`
			Desired   int    `json:"desired"`
			InService int    `json:"in_service"`
		} `json:"worker_pools"`
		TargetGroups []struct {
			Name    string `json:"name"`
			Targets int    `json:"targets"`
		} `json:"target_groups"`
	}
	mustJSON(run(2*time.Minute, "status", "local", "-o", "json"), &st)
	if st.ControlPlane.Desired != 1 || st.ControlPlane.InService != 1 || len(st.Controllers) != 1 || st.Controllers[0].State != "running" {
		t.Errorf("control plane = %+v %+v, want 1 running instance in service", st.ControlPlane, st.Controllers)
	}
	if len(st.Pools) == 0 {
		t.Errorf("status lists no worker pool")
	}
	for _, p := range st.Pools {
		if p.Desired < 1 || p.InService != p.Desired {
			t.Errorf("worker pool %+v: want every desired instance in service", p)
		}
	}
	if len(st.TargetGroups) != 2 {
		t.Errorf("target groups = %+v, want http and https", st.TargetGroups)
	}

	// plan --detailed-exitcode: the applied cluster has no drift.
	if r := run(5*time.Minute, "plan", "local", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan --detailed-exitcode after up: want 0 (no change), got %s", r)
	}

	// down --yes destroys; a second down finds nothing and says so.
	down := run(10*time.Minute, "down", "local", "--yes")
	if down.code != 0 || !strings.Contains(down.stdout, "Destroyed") {
		t.Fatalf("down: %s", down)
	}
	again := run(5*time.Minute, "down", "local", "--yes")
	if again.code != 0 || !strings.Contains(again.stdout, "already destroyed") {
		t.Fatalf("second down: want success saying already destroyed, got %s", again)
	}
	var outAfter map[string]any
	if r := run(2*time.Minute, "output", "local", "--json"); r.code == 0 {
		_ = json.Unmarshal([]byte(r.stdout), &outAfter)
		t.Errorf("output after down succeeded with %v; want a failure saying nothing is applied", outAfter)
	}
}
