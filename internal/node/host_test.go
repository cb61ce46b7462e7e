package node

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kubelet runs every file of /etc/kubernetes/manifests whose name
// does not start with a dot as a static pod (its file source globs
// "[^.]*"), and the renewal rewrites the control plane's manifests with
// ExecHost.WriteFile. The kernel's own record of the directory (inotify)
// must show no other name the kubelet would read than the manifest itself,
// and nothing left beside it.
func TestWriteFileShowsTheKubeletOnlyTheManifest(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "kube-apiserver.yaml")
	if err := os.WriteFile(manifest, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK)
	if err != nil {
		t.Skipf("skipping: no inotify: %v", err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil {
		t.Fatal(err)
	}
	if err := (ExecHost{}).WriteFile(manifest, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	var seen []string
	buf := make([]byte, 64<<10)
	n, err := unix.Read(fd, buf)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
		seen = append(seen, name)
		off += unix.SizeofInotifyEvent + int(ev.Len)
	}
	if len(seen) == 0 {
		t.Fatal("inotify saw nothing")
	}
	for _, name := range seen {
		if name != "kube-apiserver.yaml" && !strings.HasPrefix(name, ".") {
			t.Errorf("the kubelet would read %s as a static pod (events on %q)", name, seen)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("left in the directory: %v", entries)
	}
	if got, _ := os.ReadFile(manifest); string(got) != "new" {
		t.Errorf("manifest holds %q", got)
	}
	if fi, _ := os.Stat(manifest); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}

// What a crash or someone else left at the temporary file's name never
// carries the data: a link there is not followed (its target stays as it
// was), and a leftover file readable by others, held open by a reader, is
// replaced rather than filled, so the reader never sees the key.
func TestWriteFileMakesItsTemporaryFileAnew(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "ca.key")
	tmp := filepath.Join(dir, ".ca.key.kforge-tmp")
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(elsewhere, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, tmp); err != nil {
		t.Fatal(err)
	}
	if err := (ExecHost{}).WriteFile(key, []byte("secret one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(elsewhere); string(got) != "untouched" {
		t.Errorf("the link's target became %q", got)
	}

	if err := os.WriteFile(tmp, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := (ExecHost{}).WriteFile(key, []byte("secret two"), 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := io.ReadAll(reader)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(held), "secret") {
		t.Errorf("a reader holding the leftover temporary file read %q", held)
	}
	info, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(key); string(got) != "secret two" || info.Mode().Perm() != 0o600 {
		t.Errorf("%s: %q, mode %v; want the data at 0600", key, got, info.Mode().Perm())
	}
}
