// Package localaws starts and stops the local AWS emulator (moto_server) on a
// loopback port the kernel picks, and counts the requests it has served.
//
// moto keeps all its data in the memory of its process: whatever an emulator
// holds is gone once it stops.
package localaws

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// InstallHint tells the user how to get the emulator.
const InstallHint = "install it with: pip install 'moto[server]'"

// DefaultBinary is the emulator executable looked up on PATH.
const DefaultBinary = "moto_server"

// readyTimeout bounds how long Start waits for the emulator to answer.
const readyTimeout = 60 * time.Second

// ErrNotInstalled is returned (wrapped) when the emulator binary is not found.
var ErrNotInstalled = errors.New("moto_server not found on PATH")

// Options configures Start.
type Options struct {
	// Binary is the emulator executable; default "moto_server".
	Binary string
	// LogPath receives the emulator's stdout and stderr. Empty: a file in a
	// temporary directory (removed by Stop unless Detach is set).
	LogPath string
	// Env is added to the emulator's environment (KEY=VALUE).
	Env []string
	// Detach starts the emulator in its own session so it outlives this
	// process; a later process stops it with StopPID.
	Detach bool
	// NoRecording turns off moto's request recorder. Requests then fails.
	// The recorder keeps every request body on disk, which a long-lived
	// emulator does not need.
	NoRecording bool
}

// Emulator is a running moto_server.
type Emulator struct {
	url      string
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	tmpDir   string
	logPath  string
	detached bool
}

// URL is the emulator's base URL, for example http://127.0.0.1:41234.
func (e *Emulator) URL() string { return e.url }

// PID is the emulator's process id (also its process group id).
func (e *Emulator) PID() int { return e.cmd.Process.Pid }

// LogPath is the file receiving the emulator's output.
func (e *Emulator) LogPath() string { return e.logPath }

// Start launches moto_server on a 127.0.0.1 port of the kernel's choosing
// and returns once it answers HTTP requests.
func Start(ctx context.Context, opts Options) (*Emulator, error) {
	binary := opts.Binary
	if binary == "" {
		binary = DefaultBinary
	}
	path, err := exec.LookPath(binary)
	if err != nil {
		return nil, fmt.Errorf("%w (%s): %s", ErrNotInstalled, binary, InstallHint)
	}

	return start(ctx, path, opts)
}

// start runs moto_server on port 0, so that the kernel picks a port no one
// holds and moto itself reports it: a port probed free beforehand could be
// taken by another process (another test's emulator) before moto binds it.
func start(ctx context.Context, path string, opts Options) (*Emulator, error) {
	tmpDir, err := os.MkdirTemp("", "kforge-moto-")
	if err != nil {
		return nil, fmt.Errorf("creating emulator directory: %w", err)
	}
	logPath := opts.LogPath
	if logPath == "" {
		logPath = filepath.Join(tmpDir, "moto.log")
	} else if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("creating log directory: %w", err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening emulator log %s: %w", logPath, err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	// The log may be a user's file that earlier runs appended to: the port
	// is read from what this emulator writes after it.
	logStart, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("reading emulator log %s: %w", logPath, err)
	}

	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", "0")
	cmd.Dir = tmpDir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(),
		// The recorder appends each request to this file once turned on.
		"MOTO_RECORDER_FILEPATH="+filepath.Join(tmpDir, "requests.jsonl"),
		"MOTO_ENABLE_RECORDING=",
	)
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.SysProcAttr = procAttr(opts.Detach)
	e := &Emulator{
		cmd:      cmd,
		done:     make(chan struct{}),
		tmpDir:   tmpDir,
		logPath:  logPath,
		detached: opts.Detach,
	}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that started the
		// child, not the process: keep this thread until the child exits,
		// so that no other goroutine's locked thread ending kills it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		e.waitErr = cmd.Wait()
		close(e.done)
	}()
	if err := <-started; err != nil {
		os.RemoveAll(tmpDir)
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}

	if err := e.waitReady(ctx, logStart); err != nil {
		_ = e.Stop()
		if !opts.Detach {
			os.RemoveAll(tmpDir)
		}
		return nil, err
	}
	if !opts.NoRecording {
		// reset-recording creates the (empty) log so that Requests answers 0
		// before the first request instead of failing on a missing file.
		for _, action := range []string{"reset-recording", "start-recording"} {
			if err := post(ctx, e.url+"/moto-api/recorder/"+action); err != nil {
				_ = e.Stop()
				return nil, fmt.Errorf("turning on the emulator's request recorder: %w", err)
			}
		}
	}
	return e, nil
}

// listening is the line moto's web server (Werkzeug) logs once it has bound
// its port.
var listening = regexp.MustCompile(`Running on http://127\.0\.0\.1:(\d+)`)

// waitReady waits until the emulator has logged the port it bound (in its
// log after logStart) and answers on it.
func (e *Emulator) waitReady(ctx context.Context, logStart int64) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if e.url == "" {
			if port := boundPort(e.logPath, logStart); port != "" {
				e.url = "http://127.0.0.1:" + port
			}
		}
		if e.url != "" {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/moto-api/", nil)
			if resp, err := client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-e.done:
			return fmt.Errorf("moto_server exited before answering (%v); last output:\n%s", e.waitErr, tail(e.logPath, 20))
		case <-ctx.Done():
			if e.url == "" {
				return fmt.Errorf("moto_server did not log the port it listens on (a line %q): %w; last output:\n%s", listening.String(), ctx.Err(), tail(e.logPath, 20))
			}
			return fmt.Errorf("moto_server did not answer on %s: %w; last output:\n%s", e.url, ctx.Err(), tail(e.logPath, 20))
		case <-tick.C:
		}
	}
}

// boundPort returns the port in the first listening line of the log after
// offset, or "" while there is none.
func boundPort(logPath string, offset int64) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			return m[1]
		}
	}
	return ""
}

// Stop terminates the emulator's process group (SIGTERM, then SIGKILL after
// five seconds) and removes its temporary directory.
func (e *Emulator) Stop() error {
	err := stopGroup(e.PID(), e.done)
	if !e.detached && e.tmpDir != "" {
		os.RemoveAll(e.tmpDir)
	}
	return err
}

// StopPID stops an emulator started by another process (Detach) by its pid.
// A process that is already gone is not an error.
func StopPID(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("invalid emulator pid %d", pid)
	}
	return stopGroup(pid, nil)
}

// stopGroup signals the process group pid; done, when known, closes once the
// leader has been reaped (it is our child); otherwise liveness is probed.
func stopGroup(pid int, done <-chan struct{}) error {
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("stopping emulator (pid %d): %w", pid, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if exited(pid, done) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing emulator (pid %d): %w", pid, err)
	}
	for i := 0; i < 40 && !exited(pid, done); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func exited(pid int, done <-chan struct{}) bool {
	if done != nil {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	return !Alive(pid)
}

// Alive reports whether a process with this pid exists (and is not a zombie).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A zombie still answers signal 0; its state in /proc says Z.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
			return false
		}
	}
	return true
}

// Answers reports whether an emulator answers on url.
func Answers(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(url, "/")+"/moto-api/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func post(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no output)"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(no output)"
	}
	return strings.Join(lines, "\n")
}
