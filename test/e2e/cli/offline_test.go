package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/localaws"
	"github.com/kforge/kforge/internal/tfrun"
)

// offlineEnv is an environment in which Terraform cannot reach its registry
// (any attempt goes to a closed loopback port), and where kforge has not
// been given a provider mirror: no KFORGE_PLUGIN_DIR, no CLI configuration,
// an empty home.
func offlineEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{
		"KFORGE_PLUGIN_DIR=",
		"HOME=" + home,
		"XDG_DATA_HOME=",
		"TF_CLI_CONFIG_FILE=" + filepath.Join(home, "none.tfrc"),
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9",
		"https_proxy=http://127.0.0.1:9", "http_proxy=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
		"TF_PLUGIN_CACHE_DIR=",
	}
}

var pidLine = regexp.MustCompile(`AWS emulator[^\n]*\(pid (\d+)\)`)

// emulatorPID is the pid a line of stderr names after prefix.
func emulatorPID(t *testing.T, stderr, prefix string) int {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, prefix) {
			if m := pidLine.FindStringSubmatch(line); m != nil {
				pid, _ := strconv.Atoi(m[1])
				return pid
			}
		}
	}
	t.Fatalf("no line %q... with a pid in stderr:\n%s", prefix, stderr)
	return 0
}

// TestOfflineOtherEnvironment: `graph staging --local` and `cost staging --local`
// offline reuse the provider mirror the local environment remembers, say
// which, and stop the emulator they started themselves; one that was
// running before stays running, said in one line. Without any mirror the
// error names --plugin-dir and KFORGE_PLUGIN_DIR.
func TestOfflineOtherEnvironment(t *testing.T) {
	requireTools(t)
	if testing.Short() {
		t.Skip("skipping plans on the emulator in -short mode")
	}
	mirror := os.Getenv("KFORGE_PLUGIN_DIR")
	if mirror == "" || !tfrun.IsMirror(mirror) {
		t.Skip("needs KFORGE_PLUGIN_DIR set to a provider mirror")
	}
	dir := t.TempDir()
	work := filepath.Join(dir, ".kforge")
	if err := os.MkdirAll(filepath.Join(work, "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	// What `kforge up local --plugin-dir DIR` leaves behind.
	if err := os.WriteFile(filepath.Join(work, "local", "plugin-dir"), []byte(mirror+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	offline := offlineEnv(t)
	run := func(work string, args ...string) result {
		t.Helper()
		args = append([]string{"--envs-dir", filepath.Join(repoRoot, "envs"), "--workdir", work}, args...)
		return kforgeEnv(t, dir, 10*time.Minute, offline, args...)
	}

	// 1. graph starts an emulator, plans with the mirror, stops the emulator.
	g := run(work, "graph", "staging", "--local")
	if g.code != 0 || !strings.HasPrefix(g.stdout, "digraph") {
		t.Fatalf("graph staging --local offline: %s", g)
	}
	if want := "Using the provider mirror " + mirror + " (remembered by environment local)"; !strings.Contains(g.stderr, want) {
		t.Errorf("graph did not say which mirror it used (%q):\n%s", want, g.stderr)
	}
	pid := emulatorPID(t, g.stderr, "Stopped the local AWS emulator this command started")
	if localaws.Alive(pid) {
		_ = localaws.StopPID(pid)
		t.Errorf("graph said it stopped the emulator (pid %d), which still runs", pid)
	}
	if _, err := os.Stat(filepath.Join(work, "staging", "emulator.json")); !os.IsNotExist(err) {
		t.Errorf("emulator.json of staging is still there after graph stopped its emulator (%v)", err)
	}

	// 2. With an emulator already running (init leaves it), cost leaves it.
	if r := run(work, "init", "staging", "--local"); r.code != 0 {
		t.Fatalf("init staging --local: %s", r)
	}
	c := run(work, "cost", "staging", "--local")
	if c.code != 0 || !strings.Contains(c.stdout, "EKS") {
		t.Fatalf("cost staging --local offline: %s", c)
	}
	kept := emulatorPID(t, c.stderr, "Left the local AWS emulator")
	t.Cleanup(func() { _ = localaws.StopPID(kept) })
	if !localaws.Alive(kept) {
		t.Errorf("cost stopped the emulator (pid %d) that was running before it", kept)
	}
	if strings.Contains(c.stderr, "Stopped the local AWS emulator") {
		t.Errorf("cost says it stopped an emulator it did not start:\n%s", c.stderr)
	}

	// 3. No mirror anywhere: the error says how to give one, and the
	// emulator the command started is stopped all the same.
	bare := filepath.Join(t.TempDir(), ".kforge")
	n := run(bare, "cost", "staging", "--local")
	if n.code != 1 {
		t.Fatalf("cost staging --local offline without a mirror: want exit 1, got %s", n)
	}
	for _, want := range []string{"--plugin-dir", "KFORGE_PLUGIN_DIR", "See docs/COST.md."} {
		if !strings.Contains(n.stderr, want) {
			t.Errorf("error without a mirror lacks %q:\n%s", want, n.stderr)
		}
	}
	if pid := emulatorPID(t, n.stderr, "Stopped the local AWS emulator this command started"); localaws.Alive(pid) {
		_ = localaws.StopPID(pid)
		t.Errorf("the failed cost left its emulator (pid %d) running", pid)
	}
}
