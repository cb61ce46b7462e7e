package cli

import (
	"bytes"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/testutil/golden"
)

func repoEnvsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "envs")
}

// Both flags, an unknown pool or a port no listener can have (roll's and
// upgrade's --tunnel-port): exit 2 naming the flag, before the local
// emulator is looked for (none runs here, which would be exit 1).
func TestRollBadFlagsExitTwo(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"roll", "local", "--pool", "general", "--control-plane"}, "--pool and --control-plane"},
		{[]string{"roll", "local", "--pool", "gpu", "--dry-run"}, `--pool "gpu"`},
		// local pins amiID (the emulator has no such parameter): --ami
		// latest cannot move it, and says where the pin is.
		{[]string{"roll", "local", "--ami", "latest", "--dry-run"}, "--ami latest: amiID ami-760aaa0f in the environment file"},
		{[]string{"roll", "local", "--ami", "ami-0123456789abcdef0"}, `--ami "ami-0123456789abcdef0": the only value is latest`},
		{[]string{"roll", "local", "--tunnel-port", "70000", "--dry-run"}, "--tunnel-port 70000"},
		{[]string{"upgrade", "local", "--to", "1.36.6", "--tunnel-port", "-1", "--dry-run"}, "--tunnel-port -1"},
	} {
		args := append([]string{"--envs-dir", repoEnvsDir(), "--workdir", t.TempDir()}, c.args...)
		code, _, stderr := runCLI(t, args...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("kforge %s: exit %d, stderr %q; want 2 naming %s", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
}

// The --dry-run output: a surge pool, a pool without room, an up-to-date
// pool and a surge an earlier run left in progress.
func TestRollDryRunGolden(t *testing.T) {
	res := &cluster.RollResult{Env: "dev", DryRun: true, Pending: 4, Groups: []cluster.RollGroup{
		{Pool: "general", ASG: "kforge-dev-general", LaunchTemplate: "kforge-dev-general", Version: "3", Min: 1, Desired: 2, Max: 5,
			UpToDate: []string{"i-0c3"}, Resuming: "i-0a1",
			Replace: []cluster.RollInstance{
				{ID: "i-0a1", LifecycleState: "InService", Version: "2", Reason: "launch template version 2, the group's is 3 (user data: agent build or node settings)"},
				{ID: "i-0b2", LifecycleState: "InService", Version: "1", Reason: "launch template version 1, the group's is 3 (image ami-0aaa -> ami-0bbb, user data: agent build or node settings)"},
			},
			Strategy: cluster.StrategySurge, StrategyWhy: "desired 2 + 1 <= max 5: the replacement starts before the old instance goes"},
		{Pool: "system", ASG: "kforge-dev-system", LaunchTemplate: "kforge-dev-system", Version: "2", Min: 1, Desired: 2, Max: 2,
			Replace: []cluster.RollInstance{
				{ID: "i-0d4", LifecycleState: "InService", Version: "1", Reason: "launch template version 1, the group's is 2 (instance type t3.small -> t3.medium)"},
				{ID: "i-0e5", LifecycleState: "Pending", Version: "1", Reason: "launch template version 1, the group's is 2 (instance type t3.small -> t3.medium)"},
			},
			Strategy: cluster.StrategyReplace, StrategyWhy: "desired 2 = max 2 leaves no room for a surge: the pool runs one instance short during each replacement (raise workerPools.system.max to surge)"},
		{Pool: "spot", ASG: "kforge-dev-spot", LaunchTemplate: "kforge-dev-spot", Version: "4", Min: 0, Desired: 1, Max: 10, UpToDate: []string{"i-0f6"}},
	}}
	var out bytes.Buffer
	app := &App{Stdout: &out}
	app.printRollPlan(res)
	golden.Assert(t, "testdata/roll-dry-run.golden", out.Bytes())

	out.Reset()
	cp := &cluster.RollResult{Env: "dev", DryRun: true, Pending: 1, ControlPlane: true, BackupInterval: "15m", Groups: []cluster.RollGroup{
		{Pool: "control-plane", ASG: "kforge-dev-controller", LaunchTemplate: "kforge-dev-controller", Version: "2", Min: 1, Desired: 1, Max: 1,
			Replace:  []cluster.RollInstance{{ID: "i-0c9", LifecycleState: "InService", Version: "1", Reason: "launch template version 1, the group's is 2 (instance type t3.medium -> t3.large)"}},
			Strategy: cluster.StrategyReplace, StrategyWhy: "the control plane is a group of one (etcd lives on the node): a second one cannot join it; the replacement restores the latest etcd snapshot"},
	}}
	app.printRollPlan(cp)
	golden.Assert(t, "testdata/roll-dry-run-control-plane.golden", out.Bytes())
}

// --ami latest's dry run: one architecture moves, the plan follows.
func TestRollDryRunAMIGolden(t *testing.T) {
	res := &cluster.RollResult{Env: "dev", DryRun: true, Pending: 0,
		AMIs:   []cluster.AMIChange{{Arch: "x86_64", Current: "ami-0123456789abcdef0", Latest: "ami-0fedcba9876543210", Record: `terraform_data.ami["x86_64"]`}, {Arch: "arm64", Current: "ami-0aaaaaaaaaaaaaaaa", Latest: "ami-0aaaaaaaaaaaaaaaa", Record: `terraform_data.ami["arm64"]`}},
		Groups: []cluster.RollGroup{{Pool: "general", ASG: "kforge-dev-general", LaunchTemplate: "kforge-dev-general", Version: "3", Min: 1, Desired: 2, Max: 5, UpToDate: []string{"i-0a1", "i-0b2"}}}}
	var out bytes.Buffer
	app := &App{Stdout: &out}
	app.printRollPlan(res)
	golden.Assert(t, "testdata/roll-dry-run-ami.golden", out.Bytes())
}
