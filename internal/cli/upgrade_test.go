package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/testutil/golden"
)

// A skipped minor, a downgrade, an unknown release or no --to: exit 2
// naming --to and the fix, before the local emulator is looked for (none
// runs here, which would be exit 1). The repository's environments run
// 1.36.6.
func TestUpgradeBadVersionExitTwo(t *testing.T) {
	for _, c := range []struct {
		to, want string
	}{
		{"1.35.10", "--to 1.35.10: that is a downgrade from 1.36.6"},
		{"1.36.2", "downgrade from 1.36.6"},
		{"1.38.0", "--to 1.38.0: 1.38 is not a supported minor release"},
		{"", "--to is required"},
	} {
		args := []string{"--envs-dir", repoEnvsDir(), "--workdir", t.TempDir(), "upgrade", "local", "--dry-run"}
		if c.to != "" {
			args = append(args, "--to", c.to)
		}
		code, _, stderr := runCLI(t, args...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("kforge upgrade --to %q: exit %d, stderr %q; want 2 with %q", c.to, code, stderr, c.want)
		}
	}
	// Without a terminal and without --yes, a real upgrade is refused too.
	code, _, stderr := runCLI(t, "--envs-dir", repoEnvsDir(), "--workdir", t.TempDir(), "upgrade", "local", "--to", "1.36.6")
	if code != ExitUsage || !strings.Contains(stderr, "--yes") {
		t.Errorf("upgrade without a terminal: exit %d, stderr %q; want 2 naming --yes", code, stderr)
	}
}

// The --dry-run output of a minor upgrade with two pools.
func TestUpgradeDryRunGolden(t *testing.T) {
	res := &cluster.UpgradeResult{Env: "dev", DryRun: true, From: "1.35.10", To: "1.36.6", Kind: "minor",
		EnvFile: "envs/dev.yaml", Bucket: "kforge-dev-certs-0123456789ab",
		Pools: []cluster.UpgradePool{{Pool: "general", ASG: "kforge-dev-general", Instances: 2}, {Pool: "system", ASG: "kforge-dev-system", Instances: 1}}}
	res.Steps = cluster.UpgradeSteps(res, "1.35.10")
	var out bytes.Buffer
	app := &App{Stdout: &out}
	app.printUpgradePlan(res)
	golden.Assert(t, "testdata/upgrade-dry-run.golden", out.Bytes())
}
