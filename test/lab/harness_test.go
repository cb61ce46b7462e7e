package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/lab"
	"github.com/kforge/kforge/internal/testutil/kforgebin"
)

// vpcCIDR is the local environment's VPC.
var vpcCIDR = netip.MustParsePrefix("10.40.0.0/16")

const clusterName = "kforge-local"

// labTokenTTL is the nodes' bootstrap token lifetime in the lab (24 hours
// on AWS), so Late join sees the first token expire within minutes.
const labTokenTTL = 3 * time.Minute

// kforgeBin is built once by TestMain.
var kforgeBin string

// results collects each scenario's outcome for the summary line.
var results = struct {
	sync.Mutex
	order    []string
	outcome  map[string]string
	ready    int
	readyIn  time.Duration
	restore  time.Duration
	restored bool
}{outcome: map[string]string{}}

// scenarios is every scenario of the issue, in order; the summary counts
// them all, so one that does not run is not passed.
var scenarios = []string{"Up", "LateJoin", "SelfHeal", "FirstBootFault", "Scale", "PoolRoll", "ControlPlaneResize", "RestoreSnapshot", "CertRenewal", "Down", "Upgrade"}

func TestMain(m *testing.M) {
	code := runMain(m)
	if !kforgebin.Short() {
		writeSummary()
	}
	os.Exit(code)
}

func runMain(m *testing.M) int {
	if !kforgebin.Short() {
		bin, cleanup, err := kforgebin.BuildTemp(repoRoot(), "kforge-lab-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer cleanup()
		kforgeBin = bin
	}
	code := m.Run()
	if shared != nil {
		// A scenario that failed before Down leaves the lab up: take it down.
		if err := shared.close(); err != nil {
			fmt.Fprintf(os.Stderr, "lab teardown: %v\n", err)
			code = 1
		}
	}
	return code
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// scenario records t's outcome under name for the summary line.
func scenario(t *testing.T, name string) {
	t.Helper()
	results.Lock()
	results.order = append(results.order, name)
	results.Unlock()
	t.Cleanup(func() {
		out := "passed"
		switch {
		case t.Failed():
			out = "failed"
		case t.Skipped():
			out = "skipped"
		}
		results.Lock()
		results.outcome[name] = out
		results.Unlock()
	})
}

// alsoCounts names the scenarios that another issue's lab scenario is.
var alsoCounts = map[string]string{"Scale": " (also issue 13: scale-in removes the Node object)", "Upgrade": " (issue 13: the older supported minor to the newer)"}

// writeSummary prints each scenario's outcome and writes the summary line
// to KFORGE_LAB_SUMMARY for `make lab` to print last.
func writeSummary() {
	results.Lock()
	defer results.Unlock()
	passed := 0
	for _, s := range scenarios {
		out := results.outcome[s]
		if out == "" {
			out = "not run"
		}
		if out == "passed" {
			passed++
		}
		notes.Lock()
		n := notes.m[s]
		notes.Unlock()
		if n != "" && out == "passed" {
			n = " (" + n + ")"
		} else {
			n = ""
		}
		fmt.Printf("lab scenario %-18s %s%s%s\n", s, out, alsoCounts[s], n)
	}
	upgrade := ""
	if results.outcome["Upgrade"] == "passed" {
		upgrade = fmt.Sprintf("upgrade %s→%s: control plane %d s, roll %d s; ", upgradeResult.from, upgradeResult.to,
			int(upgradeResult.controlPlane.Round(time.Second)/time.Second), int(upgradeResult.roll.Round(time.Second)/time.Second))
	}
	line := fmt.Sprintf("lab: %d nodes Ready in %d s; restore %d s; %sscenarios %d/%d passed",
		results.ready, int(results.readyIn.Round(time.Second)/time.Second), int(results.restore.Round(time.Second)/time.Second), upgrade, passed, len(scenarios))
	if path := os.Getenv("KFORGE_LAB_SUMMARY"); path != "" {
		_ = os.WriteFile(path, []byte(line+"\n"), 0o644)
	}
	fmt.Println(line)
}

// cluster is the lab shared by the scenarios: the VPC with the emulator and
// the resolver in it, the local cluster applied to that emulator, and the
// fleet of nodes its ASGs launched.
type cluster struct {
	*lab.Cluster
	envsDir string
	workDir string
	upStart time.Time
	closed  bool
	// api is the host's loopback forward to the API server (apiForward).
	api *lab.Forward
}

var (
	shared    *cluster
	sharedErr error
	once      sync.Once
)

// labLog prints progress lines as they come, so a long run shows where it is.
type labLog struct{}

func (labLog) Write(p []byte) (int, error) { return os.Stderr.Write(p) }

// needCluster returns the shared cluster, bringing it up the first time;
// it skips the test, printing why, when the machine cannot run the lab.
func needCluster(t *testing.T) *cluster {
	t.Helper()
	needLabHost(t)
	once.Do(func() { shared, sharedErr = up() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	if shared.closed {
		t.Fatal("the lab was already taken down")
	}
	return shared
}

// needLabHost skips the test, printing why, when the machine cannot run
// the lab.
func needLabHost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the lab boots real nodes; not in -short")
	}
	if err := lab.CheckHost(); err != nil {
		t.Skipf("SKIP (not a pass): %v", err)
	}
	for _, tool := range []string{"terraform", "moto_server", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIP (not a pass): %s not on PATH", tool)
		}
	}
}

// up creates the lab, then applies the local cluster to the emulator
// inside it; the lab boots the instances its ASGs launch.
func up() (*cluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	minor, err := kubernetesMinor()
	if err != nil {
		return nil, err
	}
	return startAndApply(ctx, minor)
}

// startAndApply starts a lab whose package source serves the newest patch
// of each minor (the first is the nodes' release), and applies the local
// cluster at that release to its emulator; the lab boots the instances
// its ASGs launch.
func startAndApply(ctx context.Context, minor string, more ...string) (*cluster, error) {
	var moreReleases []lab.PackagesOptions
	for _, m := range more {
		moreReleases = append(moreReleases, lab.PackagesOptions{Minor: m})
	}
	lc, err := lab.StartCluster(ctx, lab.ClusterOptions{VPC: vpcCIDR, Cluster: clusterName, Region: "us-east-1",
		EmulatorEnv: []string{"MOTO_IAM_LOAD_MANAGED_POLICIES=true"}, Options: lab.Options{Log: labLog{}},
		Packages: &lab.PackagesOptions{Minor: minor}, MoreReleases: moreReleases, TokenTTL: labTokenTTL.String()})
	if err != nil {
		return nil, err
	}
	c := &cluster{Cluster: lc}
	fail := func(err error) (*cluster, error) {
		_ = c.close()
		return nil, err
	}
	version := lc.Fleet.Packages.Kubernetes
	if err := config.CheckKubernetesVersion(version); err != nil {
		return fail(fmt.Errorf("the package source's release: %w", err))
	}
	if c.envsDir, err = labEnvs(version); err != nil {
		return fail(err)
	}
	if c.workDir, err = os.MkdirTemp("", "kforge-lab-work-"); err != nil {
		return fail(err)
	}
	c.upStart = time.Now()
	if out, err := c.kforge(ctx, "up", "local", "--yes"); err != nil {
		return fail(fmt.Errorf("kforge up local at %s against the lab's emulator: %w\n%s", version, err, out))
	}
	fmt.Fprintf(os.Stderr, "lab: cluster at Kubernetes %s applied in %s\n", version, time.Since(c.upStart).Round(time.Second))
	return c, nil
}

// versionLine is base.yaml's Kubernetes release.
var versionLine = regexp.MustCompile(`(?m)^  version: (1\.[0-9]+)\.[0-9]+$`)

// kubernetesMinor is the minor of the release envs/base.yaml names.
func kubernetesMinor() (string, error) {
	data, err := os.ReadFile(filepath.Join(repoRoot(), "envs", "base.yaml"))
	if err != nil {
		return "", err
	}
	m := versionLine.FindSubmatch(data)
	if m == nil {
		return "", errors.New("envs/base.yaml has no kubernetes version line `  version: 1.N.P`; update the lab's harness")
	}
	return string(m[1]), nil
}

// labEnvs copies the repository's environments and sizes the local one as
// the lab's Up scenario wants it: one control plane and two workers (one
// per pool). The nodes run the release of that minor the package source
// was built for (the newest patch the module proxy serves, shared with
// make conformance's build), so base.yaml's patch release is replaced by it.
func labEnvs(kubernetes string) (string, error) {
	dst, err := os.MkdirTemp("", "kforge-lab-envs-")
	if err != nil {
		return "", err
	}
	src := filepath.Join(repoRoot(), "envs")
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return "", err
		}
		if e.Name() == "base.yaml" {
			data = versionLine.ReplaceAll(data, []byte("  version: "+kubernetes))
		}
		if e.Name() == "local.yaml" {
			if !bytes.Contains(data, []byte("    desired: 2\n")) {
				return "", errors.New("envs/local.yaml no longer has a pool with desired: 2; update the lab's sizing")
			}
			data = bytes.Replace(data, []byte("    desired: 2\n"), []byte("    desired: 1\n"), 1)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			return "", err
		}
	}
	return dst, nil
}

// kforge runs the kforge binary against the lab's emulator.
func (c *cluster) kforge(ctx context.Context, args ...string) (string, error) {
	full := append(append([]string{}, args...), "--endpoint", c.Emulator.URL, "--envs-dir", c.envsDir, "--workdir", c.workDir)
	cmd := exec.CommandContext(ctx, kforgeBin, full...)
	cmd.Env = append(os.Environ(), "KFORGE_ENDPOINT=")
	if dir := os.Getenv("KFORGE_PLUGIN_DIR"); dir == "" {
		if _, err := os.Stat("/opt/tf-plugins"); err == nil {
			cmd.Env = append(cmd.Env, "KFORGE_PLUGIN_DIR=/opt/tf-plugins")
		}
	}
	cmd.Stdin = strings.NewReader("")
	// A lab run that is stopped (go test -timeout, a signal) must not leave
	// kforge behind: it would hold the lab's lock, inherited from flock,
	// and block the next run. SIGTERM lets it stop Terraform as on Ctrl-C.
	// The signal follows the thread that started kforge, so hold it: the
	// lab's namespace threads end on purpose.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// close takes the lab down.
func (c *cluster) close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.Cluster.Close(context.Background())
	if c.envsDir != "" {
		os.RemoveAll(c.envsDir)
	}
	if c.workDir != "" {
		os.RemoveAll(c.workDir)
	}
	return err
}
