package lab

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Suite is the Debian release the lab's nodes run.
const Suite = "bookworm"

// basePackages is what a node needs beyond debootstrap's minbase: systemd as
// init, the network and firewall tools kubeadm's preflight and kube-proxy's
// replacement expect, the AWS CLI the production user data calls.
var basePackages = []string{
	"systemd", "systemd-sysv", "dbus", "iproute2", "iptables", "kmod", "procps",
	"ca-certificates", "conntrack", "ethtool", "socat", "ebtables", "util-linux",
	"mount", "awscli", "less",
	// containerd's runtime: Debian's runc (cgo and libseccomp, which the
	// lab's Go-only builds do not provide); containerd itself comes from the
	// package source (packages.go).
	"runc",
	// debootstrap does not resolve virtual packages: python3-cryptography (for
	// awscli) needs the provider of python3-cffi-backend-api-min named.
	"python3-cffi-backend",
}

// baseRevision changes whenever the customisation in finishBase changes, so
// a cached base built by an older kforge is not reused.
const baseRevision = "1"

// CacheDir is where the lab keeps what it builds once: the base root file
// system and the per-run instance layers.
func CacheDir() (string, error) {
	if d := os.Getenv("KFORGE_LAB_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache directory: %w", err)
	}
	return filepath.Join(d, "kforge", "lab"), nil
}

// baseKey names one base build: suite, packages and customisation.
func baseKey() string {
	h := sha256.Sum256([]byte(Suite + "\n" + strings.Join(basePackages, ",") + "\n" + baseRevision))
	return Suite + "-" + hex.EncodeToString(h[:6])
}

// Mirror is the Debian archive debootstrap reads: KFORGE_LAB_MIRROR, else the
// first Debian archive of this machine's own apt sources.
func Mirror() (string, error) {
	if m := os.Getenv("KFORGE_LAB_MIRROR"); m != "" {
		return m, nil
	}
	for _, path := range []string{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"} {
		if m := mirrorFrom(path); m != "" {
			return m, nil
		}
	}
	return "", fmt.Errorf("no Debian archive in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list; set KFORGE_LAB_MIRROR to one")
}

// mirrorFrom returns the first URI of a Debian archive (path ending in
// /debian) in a deb822 or one-line apt sources file.
func mirrorFrom(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		var fields []string
		switch {
		case strings.HasPrefix(line, "URIs:"):
			fields = strings.Fields(strings.TrimPrefix(line, "URIs:"))
		case strings.HasPrefix(line, "deb "):
			for _, f := range strings.Fields(line)[1:] {
				if !strings.HasPrefix(f, "[") && !strings.HasSuffix(f, "]") {
					fields = append(fields, f)
					break
				}
			}
		}
		for _, u := range fields {
			if strings.HasSuffix(strings.TrimSuffix(u, "/"), "/debian") {
				return u
			}
		}
	}
	return ""
}

// EnsureBase returns the base root file system, building it with
// debootstrap the first time. Concurrent callers wait on a lock; a build
// that fails or is interrupted leaves nothing that a later call would reuse.
func EnsureBase(ctx context.Context, log io.Writer) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "base-"+baseKey())
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", cache, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, "base.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", fmt.Errorf("the lab builds its nodes' root file system with debootstrap: install it (apt-get install debootstrap): %w", err)
	}
	mirror, err := Mirror()
	if err != nil {
		return "", err
	}
	tmp := dir + ".partial"
	// An interrupted debootstrap can leave /proc or /sys mounted inside.
	unmountUnder(ctx, tmp)
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("removing an interrupted build %s: %w", tmp, err)
	}
	start := time.Now()
	fmt.Fprintf(log, "lab: building the %s base root file system with debootstrap (once; cached in %s)\n", Suite, dir)
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase",
		"--include="+strings.Join(basePackages, ","), Suite, tmp, mirror)
	cmd.Stdout, cmd.Stderr = log, log
	err = cmd.Run()
	unmountUnder(ctx, tmp)
	if err != nil {
		return "", fmt.Errorf("debootstrap %s from %s into %s: %w (its log is above)", Suite, mirror, tmp, err)
	}
	if err := finishBase(tmp); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("removing %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("moving the base into place: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".complete"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("marking the base complete: %w", err)
	}
	fmt.Fprintf(log, "lab: base root file system built in %s\n", time.Since(start).Round(time.Second))
	return dir, nil
}

// finishBase prepares the base for booting as many instances: no machine id
// of its own (each instance gets one), no console getty (nspawn runs the
// nodes without a terminal), and an apt that never reaches out.
func finishBase(root string) error {
	files := map[string]string{
		"etc/machine-id": "",
		// Nothing on a lab node may reach an archive; packages come with the base.
		"etc/apt/sources.list": "",
	}
	for rel, content := range files {
		if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
			return fmt.Errorf("writing %s in the base: %w", rel, err)
		}
	}
	for _, unit := range []string{"console-getty.service", "getty@.service", "systemd-timesyncd.service", "apt-daily.timer", "apt-daily-upgrade.timer"} {
		link := filepath.Join(root, "etc/systemd/system", unit)
		_ = os.Remove(link)
		if err := os.Symlink("/dev/null", link); err != nil {
			return fmt.Errorf("masking %s in the base: %w", unit, err)
		}
	}
	return nil
}

// lockFile takes an exclusive flock on path, polling so ctx can cancel.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// unmountUnder lazily unmounts every mount point below dir, deepest first.
func unmountUnder(ctx context.Context, dir string) {
	mounts, _ := mountPoints()
	for i := len(mounts) - 1; i >= 0; i-- {
		if strings.HasPrefix(mounts[i], dir+"/") {
			_, _ = run(ctx, "umount", "-l", mounts[i])
		}
	}
}
