package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpgradeNoDrift upgrades a local cluster from 1.35 to 1.36 on the
// emulator, up to the node side (no node runs kubeadm here; the lab does):
// the dry run changes nothing, the upgrade records the version in the
// environment's own file and applies it, every worker then counts as
// outdated for the roll with the version as its reason, and a plan after
// the upgrade shows no change.
func TestUpgradeNoDrift(t *testing.T) {
	requireTools(t)
	if testing.Short() {
		t.Skip("skipping the full apply in -short mode")
	}
	env := newLocalEnv(t, "kubernetes:\n  version: 1.35.10\n")
	envFile := filepath.Join(env.envs.dir, "local.yaml")
	run := env.run
	outputs := func() map[string]any {
		t.Helper()
		r := run(2*time.Minute, "output", "local", "--json")
		var out map[string]any
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
			t.Fatalf("output: %s", r)
		}
		return out
	}
	if r := run(10*time.Minute, "up", "local", "--yes"); r.code != 0 {
		t.Fatalf("up: %s", r)
	}
	t.Cleanup(func() { run(10*time.Minute, "down", "local", "--yes") })
	out := outputs()
	if v := out["kubernetes_version"]; v != "1.35.10" {
		t.Fatalf("kubernetes_version after up = %v, want 1.35.10", v)
	}
	// The build that applied, for the next apply's downgrade check: this
	// binary is built without a version stamp.
	if v := out["kforge_version"]; v != "dev" {
		t.Errorf("kforge_version after up = %v, want dev", v)
	}

	// Refused before anything: a skipped minor is not possible from 1.35,
	// but a downgrade is.
	if r := run(time.Minute, "upgrade", "local", "--to", "1.35.9", "--dry-run"); r.code != 2 || !strings.Contains(r.stderr, "downgrade from 1.35.10") {
		t.Errorf("upgrade to 1.35.9: want exit 2 naming the downgrade, got %s", r)
	}

	dry := run(2*time.Minute, "upgrade", "local", "--to", "1.36.6", "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.stdout, "Kubernetes 1.35.10 -> 1.36.6 (minor)") || !strings.Contains(dry.stdout, "general (2 instance(s)), system (1 instance(s))") {
		t.Fatalf("upgrade --dry-run: %s", dry)
	}
	t.Logf("upgrade --dry-run:\n%s", dry.stdout)
	if data, _ := os.ReadFile(envFile); !strings.Contains(string(data), "version: 1.35.10") {
		t.Fatalf("the dry run changed %s:\n%s", envFile, data)
	}

	up := run(10*time.Minute, "upgrade", "local", "--to", "1.36.6", "--no-roll", "--yes")
	if up.code != 0 {
		t.Fatalf("upgrade: %s", up)
	}
	t.Logf("upgrade --no-roll --yes:\nstdout:\n%s\nstderr:\n%s", up.stdout, up.stderr)
	data, _ := os.ReadFile(envFile)
	if !strings.Contains(string(data), "version: 1.36.6") || strings.Contains(string(data), "1.35.10") {
		t.Errorf("%s after the upgrade:\n%s\nwant kubernetes.version 1.36.6", envFile, data)
	}
	if v := outputs()["kubernetes_version"]; v != "1.36.6" {
		t.Errorf("kubernetes_version after the upgrade = %v, want 1.36.6", v)
	}

	// Every worker is outdated now, and says why.
	roll := run(2*time.Minute, "roll", "local", "--dry-run")
	if roll.code != 0 || strings.Count(roll.stdout, "Kubernetes 1.35.10 -> 1.36.6") != 3 || !strings.Contains(roll.stdout, "3 instance(s) to replace") {
		t.Errorf("roll --dry-run after the upgrade: want the 3 workers outdated by Kubernetes 1.35.10 -> 1.36.6, got %s", roll)
	}
	t.Logf("roll --dry-run:\n%s", roll.stdout)

	// No drift: up and the environment file agree.
	if r := run(5*time.Minute, "plan", "local", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan --detailed-exitcode after the upgrade: want 0 (no change), got %s", r)
	}
	// Run again, as after an interruption: every step finds nothing to do.
	again := run(5*time.Minute, "upgrade", "local", "--to", "1.36.6", "--no-roll", "--yes")
	if again.code != 0 || !strings.Contains(again.stdout, "Done: [version recorded applied control plane]") {
		t.Errorf("second upgrade (resume with nothing left): want exit 0 and every step done, got %s", again)
	}
}
