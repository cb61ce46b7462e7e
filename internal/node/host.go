package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kforge/kforge/internal/wait"
)

// Command is one program the agent runs on the host.
type Command struct {
	Name  string
	Args  []string
	Stdin []byte
}

func (c Command) String() string { return strings.TrimSpace(c.Name + " " + strings.Join(c.Args, " ")) }

// Cmd builds a Command.
func Cmd(name string, args ...string) Command { return Command{Name: name, Args: args} }

// Host is everything the agent does to the machine: run programs and read
// and write files. The real one is ExecHost; tests use a recorder.
type Host interface {
	// Run runs c and returns its standard output.
	Run(ctx context.Context, c Command) (string, error)
	// WriteFile writes path (creating parent directories) with perm.
	WriteFile(path string, data []byte, perm fs.FileMode) error
	// ReadFile reads path; a missing file is an error matching fs.ErrNotExist.
	ReadFile(path string) ([]byte, error)
	// Open opens path for reading as a stream, for files too large to hold
	// in memory (an etcd snapshot); a missing file matches fs.ErrNotExist.
	Open(path string) (io.ReadSeekCloser, error)
	// Create creates or truncates path (creating parent directories) with
	// perm, to be written as a stream. Unlike WriteFile it is not atomic: it
	// is for scratch files only their writer reads.
	Create(path string, perm fs.FileMode) (io.WriteCloser, error)
}

// Exists reports whether path can be opened for reading on h. It opens
// rather than reads: one of the files it asks about is etcd's database.
func Exists(h Host, path string) bool {
	f, err := h.Open(path)
	if err != nil {
		return false
	}
	_ = f.Close()
	return true
}

// fileSize is the size of path on h, found by seeking to its end.
func fileSize(h Host, path string) (int64, error) {
	f, err := h.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("finding the size of %s: %w", path, err)
	}
	return n, nil
}

// ExecHost is the real host: os/exec and the local file system.
type ExecHost struct{}

// Run runs c, returning stdout; the error carries stderr's tail.
func (ExecHost) Run(ctx context.Context, c Command) (string, error) {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		return stdout.String(), fmt.Errorf("running %s: %w: %s", c.Name, err, msg)
	}
	return stdout.String(), nil
}

// WriteFile writes atomically and durably: a temporary file, synced, then
// renamed over path, and the directory synced, so that neither a crash nor
// a power loss leaves half a file, or an empty one whose phase marker
// survived. The temporary file's name starts with a dot: the kubelet runs
// every other file in /etc/kubernetes/manifests as a static pod, and one
// left there by a crash would shadow the manifest it was to replace.
func (ExecHost) WriteFile(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating directory for %s: %w", path, err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".kforge-tmp")
	if err := writeSynced(tmp, data, perm); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("renaming into %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// writeSynced writes data to a new file at path with perm (whatever the
// umask) and syncs it to disk. Whatever was at path (a file a crash left,
// a link) is removed and the file made anew: data, a key or a token, never
// goes through an older file's mode or a link's target. The mode is set
// before the data is written.
func writeSynced(path string, data []byte, perm fs.FileMode) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Locker is a Host that holds exclusive locks shared with the other
// processes of the machine. The agent takes one where two of its own
// processes must not work at once (Backup, run by its timer and by the
// drainer for kforge roll --control-plane).
type Locker interface {
	// Lock waits for the lock on path while ctx lasts; unlock releases it.
	Lock(ctx context.Context, path string) (unlock func(), err error)
}

// lock takes path on h when h can lock, and is a no-op otherwise.
func lock(ctx context.Context, h Host, path string) (func(), error) {
	if l, ok := h.(Locker); ok {
		return l.Lock(ctx, path)
	}
	return func() {}, nil
}

// lockPoll is how often a waiting Lock tries again; flock(2) itself cannot
// be interrupted by a context.
const lockPoll = 200 * time.Millisecond

// Lock takes an exclusive flock(2) on path, which flock(1) in the units
// and the agent's other processes honour.
func (ExecHost) Lock(ctx context.Context, path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	fd := int(f.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(fd, syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if err := wait.Sleep(ctx, lockPoll); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, err)
		}
	}
}

// Open opens path.
func (ExecHost) Open(path string) (io.ReadSeekCloser, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return f, nil
}

// Create creates or truncates path with perm, even when it already exists
// with a wider mode.
func (ExecHost) Create(path string, perm fs.FileMode) (io.WriteCloser, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("setting mode of %s: %w", path, err)
	}
	return f, nil
}

// ReadFile reads path.
func (ExecHost) ReadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return b, err
}
