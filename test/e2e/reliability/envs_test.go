package reliability

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/sweep"
	"github.com/kforge/kforge/test/e2e/inventory"
)

// TestExampleEnvironments applies dev, staging and prod, unchanged, to one
// shared emulator (through --endpoint; their AMI comes from the emulator's
// copy of the Amazon Linux 2023 SSM public parameter, as on AWS), then for
// each: `plan --detailed-exitcode` must report no change (idempotency), the
// secrets scan, `down`, the inventory (prod keeps exactly its certs bucket,
// log bucket and key, which a down with certsBucketForceDestroy true then
// removes), `down` again. While staging applies,
// a second `up staging` must fail fast on the state lock, naming it and
// `kforge unlock`, and the first must still succeed with its state intact.
// The local environment's idempotency is proved by TestCrashRecoveryLifecycle.
func TestExampleEnvironments(t *testing.T) {
	needTools(t)
	t.Parallel()
	em := startEmulator(t, false)
	envsDir := copyEnvs(t)

	// All example environments apply concurrently: the provider's fixed waits
	// dominate, not CPU.
	var wg sync.WaitGroup
	for _, env := range []string{"dev", "staging", "prod"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(env, func(t *testing.T) {
				cfg, err := config.LoadEnv(envsDir, env)
				if err != nil {
					t.Fatalf("loading %s: %v", env, err)
				}
				k := newKforge(t, envsDir, em.URL())
				start := time.Now()
				var up result
				if env == "staging" {
					up = upWithContender(t, k, env)
				} else {
					up = k.run("up", env, "--yes")
				}
				if up.code != 0 {
					t.Fatalf("up %s:\n%s", env, up)
				}
				applied := time.Since(start)
				plan := k.run("plan", env, "--detailed-exitcode")
				if plan.code != 0 {
					t.Fatalf("idempotency: plan --detailed-exitcode after up %s: want 0 (no change), got:\n%s", env, plan)
				}
				t.Logf("FIGURE idempotency %s: applied in %s, re-plan exit 0 (no change) in %s", env, applied.Truncate(time.Second), plan.took.Truncate(time.Second))
				out := k.mustRun(0, "output", env, "--json")
				scanSecrets(t, k, env, cfg.Region, em.URL(), out.stdout)
				down := k.run("down", env, "--yes")
				if down.code != 0 {
					t.Fatalf("down %s:\n%s", env, down)
				}
				if !cfg.CertsBucketForceDestroy {
					// staging and prod keep the certs bucket, the log
					// bucket when logging made one, the key and the
					// public zone (docs/OPERATIONS.md); only they are
					// left. Then
					// down with the setting flipped removes them.
					buckets := 1
					if cfg.Logging.VPCFlowLogs || cfg.Logging.BucketAccessLogs {
						buckets++
					}
					assertOnlyKept(t, em.URL(), cfg.Region, cfg.Name, cfg.DNS.Domain, buckets)
					forceDestroy(t, envsDir, env)
					k.mustRun(0, "down", env, "--yes")
				}
				assertNothingLeft(t, em.URL(), cfg.Region, cfg.Name, cfg.DNS.Domain)
				again := k.mustRun(0, "down", env, "--yes")
				if !strings.Contains(again.stdout, "already destroyed") {
					t.Errorf("second down of %s should say it is already gone:\n%s", env, again)
				}
			})
		}()
	}
	wg.Wait()
}

// upWithContender starts `up env`, and once its apply is under way (the
// lock is held) runs a second `up env` that must fail fast on the lock.
func upWithContender(t *testing.T, k *kforge, env string) result {
	t.Helper()
	first := k.startBG("up", env, "--yes")
	if first.waitLine(regexp.MustCompile(`^\[\s*\d+/\d+ .*\] creating `), 10*time.Minute) == "" {
		res, _ := first.wait(time.Minute)
		t.Fatalf("the first up never started applying:\n%s", res)
	}
	second := k.run("up", env, "--yes")
	if second.code != 1 {
		t.Errorf("locking: the second concurrent up should fail with exit 1, got:\n%s", second)
	}
	hint := unlockHint.FindStringSubmatch(second.stderr)
	if hint == nil || hint[1] != env || !strings.Contains(second.stderr, "locked by another run") || !strings.Contains(second.stderr, "lock ID:   "+hint[2]) {
		t.Errorf("locking: the second up should name the lock and `kforge unlock %s <id>`:\n%s", env, second)
	}
	if second.took > 60*time.Second {
		t.Errorf("locking: the second up took %s to fail; it should fail fast", second.took)
	}
	res, ok := first.wait(15 * time.Minute)
	if !ok {
		t.Fatal("the first up did not finish within 15 minutes")
	}
	t.Logf("FIGURE locking %s: second up failed in %s (exit %d, lock %s named with kforge unlock); first up exit %d", env, second.took.Truncate(time.Millisecond), second.code, func() string {
		if hint != nil {
			return hint[2]
		}
		return "?"
	}(), res.code)
	return res
}

// assertOnlyKept: after a down that keeps the certs bucket, the leftovers
// are exactly the certs and log buckets (with their objects), the cluster
// key and its alias, and the public zone of the domain with only its own
// NS and SOA records (the inventory lists every record of a zone).
func assertOnlyKept(t *testing.T, endpoint, region, cluster, domain string, buckets int) {
	t.Helper()
	rep := takeInventory(t, endpoint, region, cluster, domain)
	got := map[string]int{}
	for _, r := range rep.Leftovers {
		switch {
		case r.Kind == sweep.KindBucket && (strings.HasPrefix(r.ID, cluster+"-certs-") || strings.HasPrefix(r.ID, cluster+"-logs-")),
			r.Kind == inventory.KindObject && (strings.HasPrefix(r.ID, cluster+"-certs-") || strings.HasPrefix(r.ID, cluster+"-logs-")),
			r.Kind == sweep.KindKMSKey, r.Kind == sweep.KindKMSAlias && r.ID == "alias/"+cluster,
			r.Kind == sweep.KindHostedZone,
			r.Kind == sweep.KindRecord && (strings.HasSuffix(r.ID, " "+domain+" NS") || strings.HasSuffix(r.ID, " "+domain+" SOA")):
			got[r.Kind]++
		default:
			t.Errorf("left after a keeping down: %s (only the certs and log buckets, the key and the public zone are kept)", r)
		}
	}
	if got[sweep.KindBucket] != buckets || got[sweep.KindKMSKey] != 1 || got[sweep.KindKMSAlias] != 1 || got[sweep.KindHostedZone] != 1 || got[sweep.KindRecord] != 2 {
		t.Errorf("kept after down = %v, want %d bucket(s), 1 key (not pending deletion), 1 alias, 1 zone with its NS and SOA", got, buckets)
	}
	t.Logf("FIGURE kept %s: %v", cluster, got)
}

// forceDestroy sets certsBucketForceDestroy: true in the env's file.
func forceDestroy(t *testing.T, envsDir, env string) {
	t.Helper()
	path := filepath.Join(envsDir, env+".yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(data), "certsBucketForceDestroy: false", "certsBucketForceDestroy: true", 1)
	if out == string(data) {
		t.Fatalf("%s has no certsBucketForceDestroy: false to flip", path)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}
