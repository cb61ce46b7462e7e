package reliability

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/test/e2e/inventory"
)

// killPoint is a moment of `kforge up` at which the test SIGKILLs Terraform.
type killPoint struct {
	name string
	// at returns true on the progress line after which to kill.
	at func(done, total int, verb, addr string) bool
	// delay lets an in-flight create progress before the kill.
	delay time.Duration
}

// The kill points, in the order of one sequence of runs: each run resumes
// what the killed one left, so each point names work that is still ahead.
var killPoints = []killPoint{
	{name: "early: first resource created", at: func(done, _ int, verb, _ string) bool { return verb == "created" && done >= 1 }},
	{name: "security groups and IAM in flight", at: func(done, _ int, verb, _ string) bool { return verb == "created" && done >= 8 }, delay: 500 * time.Millisecond},
	{name: "during the NLB create", at: func(_, _ int, verb, addr string) bool {
		return verb == "creating" && addr == "module.ingress.aws_lb.this"
	}, delay: 5 * time.Second},
	{name: "auto scaling groups being created", at: func(_, _ int, verb, addr string) bool {
		return verb == "creating" && strings.Contains(addr, "aws_autoscaling_group")
	}},
	{name: "near the end: listeners and DNS records", at: func(done, total int, verb, _ string) bool {
		return (verb == "creating" || verb == "created") && total > 2 && done >= total-2
	}},
}

// TestCrashRecoveryLifecycle chains, on one emulator and one environment
// (local, through --endpoint): five `up` runs whose Terraform is SIGKILLed
// at five points, each followed by a run that must report the stale lock
// with the unlock command, `kforge unlock`; one run interrupted with SIGINT
// (state saved, lock released); the run that converges; an idempotency
// check; the secrets scan; `down`; the inventory; and `down` again.
func TestCrashRecoveryLifecycle(t *testing.T) {
	needTools(t)
	t.Parallel()
	start := time.Now()
	em := startEmulator(t, false)
	k := newKforge(t, copyEnvs(t), em.URL())
	const env = "local"

	kills, orphans := 0, 0
	for i, kp := range killPoints {
		p := k.startBG("up", env, "--yes")
		line, addr := "", ""
		for {
			line = p.waitLine(progressLine, 10*time.Minute)
			if line == "" {
				break
			}
			m := progressLine.FindStringSubmatch(line)
			done, _ := strconv.Atoi(m[1])
			total, _ := strconv.Atoi(m[2])
			// A start line reads "creating <addr>...": match the bare address.
			if a := strings.TrimSuffix(m[4], "..."); kp.at(done, total, m[3], a) {
				addr = a
				break
			}
		}
		if line == "" {
			res, _ := p.wait(5 * time.Minute)
			orphans += orphansDeleted(res.stderr)
			t.Errorf("kill point %d (%s) not reached: the run ended first with exit %d:\n%s", i+1, kp.name, res.code, errorSummaries(res.stderr))
			continue
		}
		time.Sleep(kp.delay)
		pid, err := p.killTerraform()
		if err != nil {
			t.Fatalf("kill point %d (%s): %v", i+1, kp.name, err)
		}
		res, ok := p.wait(3 * time.Minute)
		if !ok {
			t.Fatalf("kill point %d: kforge did not exit after terraform (pid %d) was killed", i+1, pid)
		}
		if res.code == 0 {
			t.Fatalf("kill point %d: kforge exited 0 although terraform was killed:\n%s", i+1, res)
		}
		kills++
		orphans += orphansDeleted(res.stderr)
		t.Logf("kill %d/%d (%s): SIGKILLed terraform pid %d after %q (%s); kforge exit %d; orphans of the previous kill deleted or adopted first: %d", i+1, len(killPoints), kp.name, pid, line, addr, res.code, orphansDeleted(res.stderr))

		// The next run finds the stale lock and says how to release it.
		stale := k.run("up", env, "--yes")
		if stale.code == 0 {
			t.Fatalf("after kill %d: the next up succeeded without reporting the stale lock:\n%s", i+1, stale)
		}
		hint := unlockHint.FindStringSubmatch(stale.stderr)
		if hint == nil || hint[1] != env || !strings.Contains(stale.stderr, "lock ID") {
			t.Fatalf("after kill %d: no stale-lock explanation with `kforge unlock %s <id>`:\n%s", i+1, env, stale)
		}
		k.mustRun(0, "unlock", env, hint[2], "--yes")
		t.Logf("after kill %d: stale lock %s reported in %s and released with kforge unlock", i+1, hint[2], stale.took.Truncate(time.Millisecond))
	}

	// SIGINT to kforge during an apply: Terraform stops cleanly, the state is
	// saved and the lock released; the next up needs no unlock.
	interrupted := false
	{
		p := k.startBG("up", env, "--yes")
		if line := p.waitLine(regexp.MustCompile(`^\[\s*\d+/\d+ .*\] creating `), 10*time.Minute); line != "" {
			if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			res, ok := p.wait(5 * time.Minute)
			if !ok {
				t.Fatal("kforge did not stop within 5 minutes of SIGINT")
			}
			if res.code != 130 || !strings.Contains(res.stderr, "Interrupt received") {
				t.Fatalf("SIGINT: want exit 130 and the interrupt notice, got:\n%s", res)
			}
			interrupted = true
			orphans += orphansDeleted(res.stderr)
			t.Logf("SIGINT during %q: kforge exit %d after %s; orphans of the last kill deleted or adopted first: %d", line, res.code, res.took.Truncate(time.Second), orphansDeleted(res.stderr))
		} else {
			res, _ := p.wait(time.Minute)
			orphans += orphansDeleted(res.stderr)
			t.Logf("SIGINT point not reached: nothing left to create after the kills (exit %d)", res.code)
		}
	}

	// The converging run: no lock to release after an interrupt.
	final := k.run("up", env, "--yes")
	if interrupted && strings.Contains(final.stderr, "locked by another run") {
		t.Fatalf("the lock was not released by the interrupted run:\n%s", final)
	}
	converged := final.code == 0
	orphans += orphansDeleted(final.stderr)
	if converged {
		t.Logf("converged after %d SIGKILLs and %d SIGINT in %s", kills, boolInt(interrupted), final.took.Truncate(time.Second))
		// The full cluster is there: no change left.
		plan := k.run("plan", env, "--detailed-exitcode")
		if plan.code != 0 {
			t.Errorf("plan --detailed-exitcode after recovery: want 0 (no change), got:\n%s", plan)
		}
		outputs := k.mustRun(0, "output", env, "--json")
		if !strings.Contains(outputs.stdout, `"nlb_dns_name"`) {
			t.Errorf("output --json lacks the cluster's outputs:\n%s", outputs)
		}
		scanSecrets(t, k, env, "us-east-1", em.URL(), outputs.stdout)
		createCSIAccessPoints(t, em.URL(), "us-east-1", "kforge-local", outputs.stdout, 2)
	} else {
		// Terraform writes remote state at most every 20 s and a create in
		// flight is recorded only when it returns: what a SIGKILL cuts off
		// exists in AWS but not in the state. Named resources then fail
		// with "already exists", unnamed ones are created twice.
		t.Errorf("crash recovery: up after %d SIGKILLs and %d SIGINT did not converge (exit %d):\n%s", kills, boolInt(interrupted), final.code, errorSummaries(final.stderr))
	}

	down := k.mustRun(0, "down", env, "--yes")
	t.Logf("down: %s", strings.TrimSpace(lastLine(down.stdout)))
	if converged && !strings.Contains(down.stdout+down.stderr, "2 EFS access points of file system") {
		t.Errorf("down did not delete the EFS CSI driver's access points before the destroy:\n%s", down)
	}
	assertNothingLeft(t, em.URL(), "us-east-1", "kforge-local", "")

	again := k.mustRun(0, "down", env, "--yes")
	if !strings.Contains(again.stdout, "already destroyed") {
		t.Fatalf("a second down should say the cluster is already gone:\n%s", again)
	}
	t.Logf("second down: %s", strings.TrimSpace(again.stdout))
	t.Logf("FIGURE crash-recovery: %d SIGKILLs, each stale lock explained and released; %d SIGINT; %d orphans of killed applies deleted or adopted by the next up; converged: %v; %s total", kills, boolInt(interrupted), orphans, converged, time.Since(start).Truncate(time.Second))
}

// orphansDeleted reads how many orphans of a killed apply an up deleted
// ("Found N resources of cluster ... does not know" ... "Deleted N") or
// adopted through import blocks ("Adopting N resources") before planning.
func orphansDeleted(stderr string) int {
	n := 0
	if m := regexp.MustCompile(`Found (\d+) resources of cluster \S+ that its Terraform state does not know`).FindStringSubmatch(stderr); m != nil && strings.Contains(stderr, "Deleted "+m[1]+" orphaned resources") {
		d, _ := strconv.Atoi(m[1])
		n += d
	}
	if m := regexp.MustCompile(`Adopting (\d+) resources`).FindStringSubmatch(stderr); m != nil {
		a, _ := strconv.Atoi(m[1])
		n += a
	}
	return n
}

// errorSummaries keeps the "Error:" lines of kforge's stderr.
func errorSummaries(stderr string) string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "Error") || strings.Contains(l, "FAILED") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	if len(out) == 0 {
		return tailLines(stderr, 20)
	}
	return strings.Join(out, "\n")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// createCSIAccessPoints makes n access points on the cluster's file system
// as the EFS CSI driver does for dynamically provisioned volumes (its tags
// and a root directory per volume). Terraform does not know them, and AWS
// refuses to delete a file system that has any, so `kforge down` must
// delete them first; the emulator does not refuse, and the inventory
// after down finds any left behind by their cluster tag.
func createCSIAccessPoints(t *testing.T, endpoint, region, cluster, outputsJSON string, n int) {
	t.Helper()
	var out struct {
		EFS string `json:"efs_id"`
	}
	if err := json.Unmarshal([]byte(outputsJSON), &out); err != nil || out.EFS == "" {
		t.Fatalf("no efs_id in the outputs (%v):\n%s", err, outputsJSON)
	}
	ctx := context.Background()
	cfg, err := awsx.Config(ctx, region, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c := efs.NewFromConfig(cfg)
	for i := range n {
		pvc := "pvc-" + strconv.Itoa(i+1)
		if _, err := c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{
			FileSystemId: aws.String(out.EFS),
			ClientToken:  aws.String(pvc),
			PosixUser:    &efstypes.PosixUser{Uid: aws.Int64(1000), Gid: aws.Int64(1000)},
			RootDirectory: &efstypes.RootDirectory{Path: aws.String("/dynamic/" + pvc), CreationInfo: &efstypes.CreationInfo{
				OwnerUid: aws.Int64(1000), OwnerGid: aws.Int64(1000), Permissions: aws.String("700")}},
			Tags: []efstypes.Tag{
				{Key: aws.String("efs.csi.aws.com/cluster"), Value: aws.String("true")},
				{Key: aws.String(inventory.ClusterTag), Value: aws.String(cluster)},
			},
		}); err != nil {
			t.Fatalf("access point %s on %s: %v", pvc, out.EFS, err)
		}
	}
}

// takeInventory lists what of the cluster is left in the emulator.
func takeInventory(t *testing.T, endpoint, region, cluster, domain string) *inventory.Report {
	t.Helper()
	ctx := context.Background()
	cfg, err := awsx.Config(ctx, region, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := inventory.Take(ctx, cfg, inventory.Target{Cluster: cluster, Domain: domain, Endpoint: endpoint})
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	return rep
}

// assertNothingLeft inventories the emulator for the cluster's resources.
func assertNothingLeft(t *testing.T, endpoint, region, cluster, domain string) {
	t.Helper()
	rep := takeInventory(t, endpoint, region, cluster, domain)
	scanned := 0
	for _, n := range rep.Scanned {
		scanned += n
	}
	for _, r := range rep.Leftovers {
		t.Errorf("left after down: %s", r)
	}
	t.Logf("FIGURE inventory %s: %d kinds, %d resources scanned, %d left", cluster, len(rep.Scanned), scanned, len(rep.Leftovers))
}
