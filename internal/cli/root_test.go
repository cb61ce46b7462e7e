package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI executes kforge in-process with stdin that is not a terminal.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	code = Execute(context.Background(), app, args)
	return code, out.String(), errb.String()
}

func TestUsageErrorsExitTwo(t *testing.T) {
	cases := [][]string{
		{"nosuchcommand"},
		{"up"},
		{"up", "a", "b"},
		{"up", "local", "--no-such-flag"},
		{"--output", "yaml", "version"},
		{"unlock", "local"},
		{"completion", "tcsh"},
		{"--local", "--endpoint", "http://127.0.0.1:1", "plan", "local"},
		// A mistyped subcommand of a group, as of the root.
		{"dns", "chek", "local"},
		{"node", "bogus"},
		{"lab", "swep"},
		// Flags checked before the environment is looked up.
		{"validate", "missing", "--tunnel-port", "70000"},
		{"dns", "check", "missing", "--resolver", "192.0.2.53:abc"},
	}
	for _, args := range cases {
		code, _, stderr := runCLI(t, args...)
		if code != ExitUsage {
			t.Errorf("kforge %s: exit %d, want 2 (stderr %q)", strings.Join(args, " "), code, stderr)
		}
		if !strings.HasPrefix(stderr, "Error: ") {
			t.Errorf("kforge %s: stderr %q does not start with Error:", strings.Join(args, " "), stderr)
		}
	}
}

// With --detailed-exitcode, 2 says the plan has changes: every error is 1
// there, as with terraform plan, so a drift check tells them apart.
func TestPlanDetailedExitCodeKeepsTwoForChanges(t *testing.T) {
	code, _, stderr := runCLI(t, "--envs-dir", t.TempDir(), "plan", "missing", "--detailed-exitcode")
	if code != ExitFailure || !strings.Contains(stderr, "missing") {
		t.Errorf("plan of a missing environment with --detailed-exitcode: exit %d, stderr %q; want 1 naming it", code, stderr)
	}
	if code, _, _ := runCLI(t, "--envs-dir", t.TempDir(), "plan", "missing"); code != ExitUsage {
		t.Errorf("plan of a missing environment: exit %d, want 2", code)
	}
	// Also when the command line fails before the flag is parsed.
	for _, args := range [][]string{{"plan", "missing", "--bogus", "--detailed-exitcode"}, {"plam", "missing", "--detailed-exitcode"}} {
		if code, _, stderr := runCLI(t, args...); code != ExitFailure || !strings.Contains(stderr, "--help' for usage.") {
			t.Errorf("kforge %s: exit %d, stderr %q; want 1 and the usage hint", strings.Join(args, " "), code, stderr)
		}
	}
}

// The way back to a local environment's emulator keeps --local: without
// it the same command applies to the account.
func TestMissingEmulatorHintKeepsLocal(t *testing.T) {
	code, _, stderr := runCLI(t, "--envs-dir", "../../envs", "--workdir", t.TempDir(), "status", "dev", "--local")
	if code != ExitFailure || !strings.Contains(stderr, "run `kforge up dev --local` first") {
		t.Errorf("status dev --local without its emulator: exit %d, stderr %q", code, stderr)
	}
}

// The example of a subcommand's argument error is that subcommand.
func TestEnvArgNamesTheWholeCommand(t *testing.T) {
	code, _, stderr := runCLI(t, "dns", "check")
	if code != ExitUsage || !strings.Contains(stderr, "kforge dns check takes one environment name (for example: kforge dns check local)") {
		t.Errorf("dns check without an environment: exit %d, stderr %q", code, stderr)
	}
}

// A plan file whose directory does not exist is refused before the
// environment is opened: no emulator, credentials or refresh first.
func TestPlanOutToAMissingDirectoryExitsTwo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir", "x.plan")
	code, _, stderr := runCLI(t, "--envs-dir", t.TempDir(), "plan", "anything", "--out", missing)
	if code != ExitUsage || !strings.Contains(stderr, "--out") || !strings.Contains(stderr, "does not exist") {
		t.Errorf("exit %d, stderr %q; want 2 naming --out", code, stderr)
	}
}

// Without a terminal and without --yes, up refuses before it starts an
// emulator or asks AWS; bad input is named first, as --yes would not mend it.
func TestUpRefusesWithoutTerminalOrYes(t *testing.T) {
	code, _, stderr := runCLI(t, "--envs-dir", "../../envs", "--workdir", t.TempDir(), "up", "local")
	if code != ExitUsage || !strings.Contains(stderr, "re-run the same command with --yes\n") || strings.Contains(stderr, "emulator") {
		t.Errorf("up local without --yes on a pipe: exit %d, stderr %q; want 2 and a --yes hint, no emulator", code, stderr)
	}
	code, _, stderr = runCLI(t, "--envs-dir", t.TempDir(), "up", "missing")
	if code != ExitUsage || strings.Contains(stderr, "--yes") || !strings.Contains(stderr, "missing") {
		t.Errorf("up of a missing environment without --yes: exit %d, stderr %q; want 2 naming the environment, not --yes", code, stderr)
	}
}

// upgrade checks --to before it asks for a confirmation nobody can give.
func TestUpgradeChecksItsInputBeforeTheConfirmation(t *testing.T) {
	args := []string{"--envs-dir", "../../envs", "--workdir", t.TempDir(), "upgrade", "local", "--to"}
	code, _, stderr := runCLI(t, append(args, "1.2")...)
	if code != ExitUsage || !strings.Contains(stderr, "--to 1.2") || strings.Contains(stderr, "confirmation") {
		t.Errorf("upgrade --to 1.2 without --yes: exit %d, stderr %q; want 2 naming --to", code, stderr)
	}
	// No command line to copy: one without this call's --no-roll would roll.
	code, _, stderr = runCLI(t, append(args, "1.36.6", "--no-roll")...)
	if code != ExitUsage || !strings.Contains(stderr, "re-run the same command with --yes\n") {
		t.Errorf("upgrade --to 1.36.6 without --yes: exit %d, stderr %q; want 2 and a --yes hint", code, stderr)
	}
}

func TestConfirm(t *testing.T) {
	app := &App{Stdin: strings.NewReader("yes\n"), Stderr: &bytes.Buffer{}}
	if err := app.Confirm(context.Background(), "do it", "yes"); ExitCode(err) != ExitUsage {
		t.Errorf("Confirm on a non-terminal = %v, want a usage error", err)
	}
	app.Yes = true
	if err := app.Confirm(context.Background(), "do it", "yes"); err != nil {
		t.Errorf("Confirm with --yes = %v, want nil", err)
	}
}

func TestVersionJSON(t *testing.T) {
	code, stdout, _ := runCLI(t, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(stdout), &v); err != nil || v["version"] != Version {
		t.Fatalf("version JSON = %q (%v)", stdout, err)
	}
}

func TestCompletion(t *testing.T) {
	code, stdout, _ := runCLI(t, "completion", "bash")
	if code != 0 || !strings.Contains(stdout, "kforge") {
		t.Fatalf("completion bash: exit %d, %d bytes", code, len(stdout))
	}
}

// TestErrorsEndWithHelp: a configuration error ends with the configuration
// reference; once a command runs, an error ends with the page that explains
// the command's failures, if it has one; otherwise bad input ends with the
// command's --help, and any other failure with the error itself, which says
// what to do (--help would not help).
func TestErrorsEndWithHelp(t *testing.T) {
	envs := t.TempDir()
	if err := os.WriteFile(filepath.Join(envs, "bad.yaml"), []byte("name: Bad_Name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	running := []string{"--envs-dir", "../../envs", "--workdir", work}
	const noHint = ""
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"nosuchcommand"}, "Run 'kforge --help' for usage."},
		{[]string{"up"}, "Run 'kforge up --help' for usage."},
		{[]string{"dns", "check", "local", "--no-such-flag"}, "Run 'kforge dns check --help' for usage."},
		{[]string{"--output", "yaml", "version"}, "Run 'kforge version --help' for usage."},
		{[]string{"--envs-dir", envs, "plan", "bad"}, "See docs/CONFIG.md for every key, default and rule."},
		{[]string{"--envs-dir", envs, "plan", "missing"}, "See docs/CONFIG.md for every key, default and rule."},
		// Bad input found once the command runs: its page names the rules.
		{append(running, "validate", "local", "--interval", "0s"), "See docs/OPERATIONS.md."},
		{append(running, "roll", "local", "--pool", "nosuch"), "See docs/OPERATIONS.md."},
		// Failures while running (here: no emulator holds the environment).
		{append(running, "validate", "local"), "See docs/OPERATIONS.md."},
		{append(running, "dns", "check", "local"), "See docs/DNS.md."},
		{append(running, "status", "local"), noHint},
		{append(running, "unlock", "local", "123"), noHint},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		last := lines[len(lines)-1]
		ok := last == c.want
		if c.want == noHint {
			ok = strings.HasPrefix(last, "Error: ") && !strings.Contains(stderr, "--help")
		}
		if code == 0 || !ok {
			t.Errorf("kforge %s: exit %d, last line %q, want %q\n%s", strings.Join(c.args, " "), code, last, c.want, stderr)
		}
	}
}
