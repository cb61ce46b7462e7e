// Package cli_test runs the real kforge binary against the local AWS
// emulator: the lifecycle a user runs (init, up, status, output, plan, down)
// and the refusals that must happen before any cloud call.
//
// It builds the binary once; each test starts its own moto_server (a whole
// cluster's apply takes about two minutes, mostly fixed waits in the AWS
// provider). The tests run one after the other: run beside
// TestUpgradeNoDrift, TestLifecycle's first up (through the losing proxy)
// twice stopped progressing at the control plane's launch template.
// Terraform needs its provider: set KFORGE_PLUGIN_DIR to a provider mirror
// when offline.
package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/testutil/kforgebin"
	"github.com/kforge/kforge/internal/testutil/textlines"
)

var (
	kforgeBin string // built once by TestMain
	repoRoot  string
	skipWhy   string // set when a prerequisite is missing
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("../../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = root
	bin, cleanup, err := kforgebin.BuildTemp(repoRoot, "kforge-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	kforgeBin = bin
	for _, tool := range []string{"terraform", "moto_server"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipWhy = tool + " is not on PATH"
		}
	}
	return m.Run()
}

func requireTools(t *testing.T) {
	t.Helper()
	if skipWhy != "" {
		t.Skipf("skipping: %s", skipWhy)
	}
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s", r.code, r.stdout, r.stderr)
}

// kforge runs the binary in dir with args; stdin is not a terminal.
func kforge(t *testing.T, dir string, timeout time.Duration, args ...string) result {
	t.Helper()
	return kforgeEnv(t, dir, timeout, nil, args...)
}

// kforgeEnv is kforge with env (KEY=value) added to the environment.
func kforgeEnv(t *testing.T, dir string, timeout time.Duration, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kforgeBin, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("") // a pipe: not a terminal
	cmd.Env = append(append(os.Environ(), "KFORGE_ENDPOINT=", "KFORGE_AGENT_BINARY="), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, io.MultiWriter(&stderr, testLog{t})
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running kforge %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("kforge %s timed out after %s; the end of its output:\n%s", strings.Join(args, " "), timeout, textlines.Last(stdout.String()+stderr.String(), 40))
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// testLog streams the binary's progress into verbose test output.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	if testing.Verbose() {
		l.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
