package reliability

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/localaws"
	"github.com/kforge/kforge/internal/testutil/kforgebin"
)

// Fake Porkbun credentials set in every kforge run: the secrets test greps
// every artefact for them.
const (
	fakePorkbunKey    = "pk1_reliabilityfakekey0123456789abcdef"
	fakePorkbunSecret = "sk1_reliabilityfakesecret0123456789abcdef"
)

// kforgeBin is the kforge binary TestMain builds for this run.
var kforgeBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// testing.Short needs parsed flags; tests skip themselves in -short mode.
	if !kforgebin.Short() {
		bin, cleanup, err := kforgebin.BuildTemp(repoRoot(), "kforge-reliability-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer cleanup()
		kforgeBin = bin
		// dev runs Graviton nodes: kforge finds their agent beside itself.
		arm := filepath.Join(filepath.Dir(bin), "kforge-linux-arm64")
		if err := kforgebin.Build(repoRoot(), arm, "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// repoRoot is the repository root (this package is test/e2e/reliability).
func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", "..", ".."))
}

// needTools skips a test that cannot run here, saying why.
func needTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping full applies against the emulator in -short mode")
	}
	for _, tool := range []string{"terraform", "moto_server"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not on PATH", tool)
		}
	}
}

// startEmulator starts a moto_server for the test, stopped on cleanup.
// record turns moto's request recorder on (for request counting).
func startEmulator(t *testing.T, record bool) *localaws.Emulator {
	t.Helper()
	em, err := localaws.Start(context.Background(), localaws.Options{
		NoRecording: !record,
		LogPath:     filepath.Join(t.TempDir(), "moto.log"),
		Env:         []string{"MOTO_IAM_LOAD_MANAGED_POLICIES=true"},
	})
	if errors.Is(err, localaws.ErrNotInstalled) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("starting the emulator: %v", err)
	}
	t.Cleanup(func() {
		if err := em.Stop(); err != nil {
			t.Errorf("stopping the emulator: %v", err)
		}
	})
	return em
}

// kforge runs the binary with one envs directory, work directory and
// endpoint.
type kforge struct {
	t        *testing.T
	envsDir  string
	workDir  string
	endpoint string
}

func newKforge(t *testing.T, envsDir, endpoint string) *kforge {
	return &kforge{t: t, envsDir: envsDir, workDir: filepath.Join(t.TempDir(), "work"), endpoint: endpoint}
}

// copyEnvs copies the repository's example environments to a temporary
// directory the test may add files to.
func copyEnvs(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join(repoRoot(), "envs")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func (k *kforge) command(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{}, args...)
	if k.endpoint != "" {
		full = append(full, "--endpoint", k.endpoint)
	}
	full = append(full, "--envs-dir", k.envsDir, "--workdir", k.workDir)
	cmd := exec.CommandContext(ctx, kforgeBin, full...)
	cmd.Env = append(os.Environ(),
		"PORKBUN_API_KEY="+fakePorkbunKey,
		"PORKBUN_SECRET_API_KEY="+fakePorkbunSecret,
		"KFORGE_ENDPOINT=",
	)
	cmd.Stdin = strings.NewReader("")
	return cmd
}

// result is a finished kforge run.
type result struct {
	args           []string
	code           int
	stdout, stderr string
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("kforge %s: exit %d after %s\n--- stdout\n%s\n--- stderr\n%s", strings.Join(r.args, " "), r.code, r.took.Truncate(time.Millisecond), tailLines(r.stdout, 40), tailLines(r.stderr, 60))
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// run runs kforge to the end.
func (k *kforge) run(args ...string) result {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := k.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		k.t.Fatalf("running kforge %v: %v", args, err)
	}
	return res
}

// mustRun runs kforge and fails the test unless it exits with want.
func (k *kforge) mustRun(want int, args ...string) result {
	k.t.Helper()
	r := k.run(args...)
	if r.code != want {
		k.t.Fatalf("want exit %d, got:\n%s", want, r)
	}
	return r
}

// proc is a kforge run in the background whose stderr lines are watched.
type proc struct {
	cmd    *exec.Cmd
	args   []string
	start  time.Time
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	lines  chan string
	done   chan struct{}
	res    result
}

func (k *kforge) startBG(args ...string) *proc {
	k.t.Helper()
	cmd := k.command(context.Background(), args...)
	p := &proc{cmd: cmd, args: args, lines: make(chan string, 4096), done: make(chan struct{})}
	cmd.Stdout = &lockedWriter{mu: &p.mu, w: &p.stdout}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		k.t.Fatal(err)
	}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		k.t.Fatalf("starting kforge %v: %v", args, err)
	}
	go func() {
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- line:
			default: // nobody is watching that far back
			}
		}
		err := cmd.Wait()
		p.mu.Lock()
		p.res = result{args: args, stdout: p.stdout.String(), stderr: p.stderr.String(), took: time.Since(p.start)}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.res.code = ee.ExitCode()
			if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
				p.res.code = 128 + int(st.Signal())
			}
		} else if err != nil {
			p.res.code = -1
		}
		p.mu.Unlock()
		close(p.lines)
		close(p.done)
	}()
	k.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-p.terraformPID(), syscall.SIGKILL)
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// waitLine waits for a stderr line matching re and returns it; "" when the
// run ended first or timeout passed.
func (p *proc) waitLine(re *regexp.Regexp, timeout time.Duration) string {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return ""
			}
			if re.MatchString(line) {
				return line
			}
		case <-deadline:
			return ""
		}
	}
}

// wait waits for the run to end and returns its result.
func (p *proc) wait(timeout time.Duration) (result, bool) {
	go func() {
		for range p.lines { // keep draining
		}
	}()
	select {
	case <-p.done:
		return p.res, true
	case <-time.After(timeout):
		return result{}, false
	}
}

// terraformPID is the terraform process kforge runs right now (a direct
// child whose command is terraform), or 0.
func (p *proc) terraformPID() int {
	if p.cmd.Process == nil {
		return 0
	}
	for _, pid := range childPIDs(p.cmd.Process.Pid) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(comm)) == "terraform" {
			return pid
		}
	}
	return 0
}

func childPIDs(pid int) []int {
	var pids []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(f); err == nil {
				pids = append(pids, c)
			}
		}
	}
	return pids
}

// killTerraform SIGKILLs the terraform process kforge runs and its process
// group (terraform-exec starts Terraform in a group of its own, with its
// provider plugins): the run dies as in a crash or an OOM kill, with no
// chance to save state or release the lock.
func (p *proc) killTerraform() (int, error) {
	pid := p.terraformPID()
	if pid == 0 {
		return 0, fmt.Errorf("no terraform child of kforge pid %d", p.cmd.Process.Pid)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return pid, fmt.Errorf("killing terraform pid %d: %w", pid, err)
		}
	}
	return pid, nil
}

// progressLine matches kforge's progress lines: "[ 30/77  0:14] creating X...".
var progressLine = regexp.MustCompile(`^\[\s*(\d+)/(\d+)\s+\d+:\d+\] (creating|created|still creating|destroying|destroyed|FAILED to \w+) (\S+)`)

// unlockHint finds "kforge unlock <env> <id>" in a message.
var unlockHint = regexp.MustCompile(`kforge unlock (\S+) ([0-9a-f-]{36})`)
