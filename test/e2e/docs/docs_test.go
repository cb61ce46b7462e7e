// Package docs_test runs the shell commands the documentation shows, so the
// documentation cannot drift from the binary: every command in a fenced `sh`
// block of README.md and docs/*.md is either run here, offline against the
// local emulator, or listed in rules with the reason it cannot be, and then
// still checked as far as it can be offline (a kforge command's subcommand
// and flags through --help, a go test command's packages).
//
// The commands run in a copy of the repository, in document order, as a new
// user would: `make local` builds bin/kforge and brings the cluster up once,
// and the README's tour (status, output, cost, graph, down) uses that cluster.
// Terraform needs its provider: set KFORGE_PLUGIN_DIR when offline.
package docs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/localaws"
	"github.com/kforge/kforge/internal/testutil/textlines"
)

// how a documented command is treated.
type how int

const (
	run      how = iota // run it; it must exit 0
	helpOnly            // needs AWS: run it with --help (subcommand and flags must exist)
	pkgsOnly            // a go test command another make target runs: its packages must exist
	notRun              // cannot run here at all
)

// rule classifies the commands whose text matches re.
type rule struct {
	re  *regexp.Regexp
	how how
	why string // for every how but run
}

// rules, first match wins. A documented command no rule matches fails the
// test: decide how it is checked when you document it.
var rules = []rule{
	{regexp.MustCompile(`^make local\b`), run, ""},
	{regexp.MustCompile(`^make lab$`), notRun, "boots real nodes as root for many minutes; run by hand (docs/LAB.md)"},
	{regexp.MustCompile(`^\./bin/kforge (up local --nodes|lab sweep)\b`), helpOnly, "boots (or sweeps) real nodes as root; make lab runs the lab"},
	{regexp.MustCompile(`^make test\b`), notRun, "runs every check and test, this one included; CI runs it (.ci/run)"},
	{regexp.MustCompile(`^\$EDITOR `), notRun, "opens an editor"},
	{regexp.MustCompile(`^\./bin/kforge [a-z ]+ local\b`), run, ""},
	{regexp.MustCompile(`^(\./bin/)?kforge [a-z ]+ (dev|staging|prod)\b`), helpOnly, "needs an AWS account and credentials"},
	{regexp.MustCompile(`^([a-z]+=\$\()?(aws|terraform output) `), notRun, "the AWS CLI or Terraform against a cluster on AWS: needs an account and credentials"},
	{regexp.MustCompile(`^(export |rm -f |until |set -a)`), run, ""},
	{regexp.MustCompile(`^go run \./internal/dns/fakeserve `), run, ""},
	{regexp.MustCompile(`^scripts/security-scan$`), run, ""},
	{regexp.MustCompile(`^go test .*-fuzz `), pkgsOnly, "fuzzes for its -fuzztime; `make fuzz` runs every target"},
	{regexp.MustCompile(`^go test .*\./test/e2e/`), pkgsOnly, "the end-to-end suites take tens of minutes; `make e2e` runs them"},
	{regexp.MustCompile(`^go test `), pkgsOnly, "`make unit` runs these tests"},
}

// command is one command of a fenced sh block.
type command struct {
	file  string // relative to the repository
	line  int
	block int // index of its block in document order
	text  string
	rule  rule
}

func (c command) String() string { return fmt.Sprintf("%s:%d: %s", c.file, c.line, c.text) }

func TestDocumentedCommands(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	cmds := documentedCommands(t, root)
	if len(cmds) < 20 {
		t.Fatalf("found only %d documented commands; is the sh block parser broken?", len(cmds))
	}
	for _, c := range cmds {
		t.Logf("%-8s %s", [...]string{"run", "--help", "packages", "not run"}[c.rule.how], c)
	}
	if testing.Short() {
		t.Skip("skipping the documented commands (a full apply on the emulator) in -short mode")
	}
	for _, tool := range []string{"make", "terraform", "moto_server", "dot", "trivy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: run scripts/install-deps (make test does)", tool)
		}
	}

	dir := copyRepo(t, root)
	t.Cleanup(func() { stopEmulators(t, dir) })

	// Each block's runnable commands run as one script, so a block's
	// exports and background servers reach its next commands.
	var script []command
	flush := func() {
		if len(script) > 0 {
			runScript(t, dir, script)
			script = nil
		}
	}
	for i, c := range cmds {
		if i > 0 && c.block != cmds[i-1].block {
			flush()
		}
		switch c.rule.how {
		case run:
			script = append(script, c)
		case helpOnly:
			checkHelp(t, dir, c)
		case pkgsOnly:
			checkPackages(t, dir, c)
		}
	}
	flush()

	// The README's tour leaves its drawing behind.
	if png, err := os.ReadFile(filepath.Join(dir, "local.png")); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("the README's graph command left no PNG in local.png (%v)", err)
	}
}

// documentedCommands parses the sh blocks of README.md and docs/*.md.
func documentedCommands(t *testing.T, root string) []command {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var cmds []command
	block := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		inSh, pending, pendingLine := false, "", 0
		sc := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			switch {
			case !inSh && strings.TrimSpace(line) == "```sh":
				inSh = true
				block++
				continue
			case inSh && strings.HasPrefix(strings.TrimSpace(line), "```"):
				inSh = false
				continue
			case !inSh:
				continue
			}
			if pending == "" {
				pendingLine = n
			}
			if strings.HasSuffix(line, `\`) {
				pending += strings.TrimSuffix(line, `\`) + " "
				continue
			}
			text := strings.TrimSpace(pending + line)
			pending = ""
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			c := command{file: rel, line: pendingLine, block: block, text: text}
			matched := false
			for _, r := range rules {
				if r.re.MatchString(text) {
					c.rule, matched = r, true
					break
				}
			}
			if !matched {
				t.Errorf("%s: no rule says how this documented command is checked; add one to rules in %s", c, "test/e2e/docs/docs_test.go")
				continue
			}
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// copyRepo copies the repository's files (not .git, .kforge or bin) to a
// temporary directory: a fresh clone, with the working tree's changes.
func copyRepo(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case rel == ".":
			return nil
		case d.IsDir() && (rel == ".git" || rel == ".kforge" || rel == "bin" || d.Name() == ".terraform"):
			return filepath.SkipDir
		case d.IsDir():
			return os.Mkdir(filepath.Join(dir, rel), 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying the repository: %v", err)
	}
	return dir
}

// testEnv is the environment the documented commands see: the user's,
// without settings that would point kforge elsewhere.
func testEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "KFORGE_ENDPOINT", "KFORGE_WORKDIR", "KFORGE_ENVS_DIR", "KFORGE_AGENT_BINARY":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// runScript runs commands as one bash script in dir; each must exit 0.
// Background processes the script starts are stopped with it.
func runScript(t *testing.T, dir string, cmds []command) {
	t.Helper()
	var b strings.Builder
	b.WriteString("set -euo pipefail\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "echo %q >&2\n%s\n", "+ "+c.text, c.text)
	}
	// make local builds kforge and two agents, then applies: tens of minutes on a
	// loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-c", b.String())
	sh.Dir = dir
	sh.Env = testEnv()
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A file, not a pipe: a background server the script starts keeps its
	// output open, and Run would wait for it on a pipe.
	log, err := os.CreateTemp(t.TempDir(), "script-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	sh.Stdout, sh.Stderr = log, log
	err = sh.Run()
	// The script's background servers share its process group.
	_ = syscall.Kill(-sh.Process.Pid, syscall.SIGTERM)
	out, _ := os.ReadFile(log.Name())
	t.Logf("%s:\n%s", cmds[0].file, out)
	if err != nil {
		t.Fatalf("documented commands of %s failed (%v); the last '+' line above is the command:\n%s", cmds[0].file, err, textlines.Last(string(out), 40))
	}
}

// checkHelp runs a kforge command that needs AWS with --help appended:
// cobra parses its flags first, so an unknown subcommand or flag fails.
func checkHelp(t *testing.T, dir string, c command) {
	t.Helper()
	fields := strings.Fields(strings.SplitN(c.text, "#", 2)[0])
	cmd := exec.Command(filepath.Join(dir, "bin", "kforge"), append(fields[1:], "--help")...)
	cmd.Dir = dir
	cmd.Env = testEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s (%s; checked with --help): %v\n%s", c, c.rule.why, err, out)
		return
	}
	// An unknown subcommand falls back to its parent's help.
	if want := "kforge " + strings.Join(subcommand(fields[1:]), " "); !strings.Contains(string(out), want) {
		t.Errorf("%s: --help does not describe %q:\n%s", c, want, out)
	}
}

// subcommand is the leading words of args before the environment name.
func subcommand(args []string) []string {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") || a == "dev" || a == "staging" || a == "prod" || a == "local" {
			break
		}
		words = append(words, a)
	}
	return words
}

// checkPackages checks that the packages a documented go test names exist.
func checkPackages(t *testing.T, dir string, c command) {
	t.Helper()
	n := 0
	for _, f := range strings.Fields(c.text) {
		if f == "|" || strings.HasPrefix(f, "#") {
			break // the pipeline's next command, or a comment
		}
		if !strings.HasPrefix(f, "./") {
			continue
		}
		n++
		pkg := strings.TrimSuffix(strings.TrimSuffix(f, "..."), "/")
		if st, err := os.Stat(filepath.Join(dir, pkg)); err != nil || !st.IsDir() {
			t.Errorf("%s: package %s does not exist", c, f)
		}
	}
	if n == 0 {
		t.Errorf("%s: names no package", c)
	}
}

// stopEmulators stops emulators a failed run left behind. When the test
// failed it logs the last Python traceback of each emulator's log: a 500
// from the emulator says nothing more to its client.
func stopEmulators(t *testing.T, dir string) {
	recs, _ := filepath.Glob(filepath.Join(dir, ".kforge", "*", "emulator.json"))
	for _, path := range recs {
		if t.Failed() {
			logLastTraceback(t, filepath.Join(filepath.Dir(path), "emulator.log"))
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var rec struct {
			PID int `json:"pid"`
		}
		if json.Unmarshal(data, &rec) == nil && rec.PID > 0 && localaws.Alive(rec.PID) {
			t.Logf("stopping the emulator a failed run left (pid %d)", rec.PID)
			_ = localaws.StopPID(rec.PID)
		}
	}
}

// logLastTraceback logs the last traceback in an emulator's log, if any.
func logLastTraceback(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	log := string(data)
	if i := strings.LastIndex(log, "Traceback (most recent call last)"); i >= 0 {
		t.Logf("the last traceback in %s:\n%s", path, head(log[i:], 60))
	}
}

func head(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
