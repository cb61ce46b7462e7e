package reliability

import (
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/config"
)

// TestExampleEnvironments applies dev, staging and prod, unchanged, to one
// shared emulator (through --endpoint; their AMI comes from the emulator's
// copy of the Amazon Linux 2023 SSM public parameter, as on AWS), then for
// each: `plan --detailed-exitcode` must report no change (idempotency), the
// secrets scan, `down`, the inventory, `down` again. While staging applies,
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
