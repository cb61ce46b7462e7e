package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// InstanceSpec is one instance the lab boots.
type InstanceSpec struct {
	// Index is unique within the lab; it names the namespace and links.
	Index int
	// ID is the instance id (i-…); it seeds the machine id.
	ID       string
	Hostname string
	IP       netip.Addr
	// Files are written into the instance's own layer before it boots,
	// keyed by absolute path inside the instance.
	Files map[string]File
	// Binds are host directories bind-mounted into the instance (host path
	// to path inside); created when missing.
	Binds map[string]string
	// NspawnArgs are added to systemd-nspawn's command line.
	NspawnArgs []string
	// Metadata, when set, is served by the instance's own metadata service
	// at 169.254.169.254 (IMDSv2 only), started before the instance boots.
	Metadata *Metadata
	// Prepare, when set, runs once the instance's network namespace (its
	// path) exists and before the instance boots: a scenario's fault in
	// that one instance's network.
	Prepare func(ctx context.Context, netns string) error
}

// File is one file written into an instance, or a symbolic link to Link.
type File struct {
	Data []byte
	Mode fs.FileMode
	Link string
}

// Instance is a booted sandbox.
type Instance struct {
	Spec    InstanceSpec
	NetNS   string
	Dir     string
	Console string

	lab     *Lab
	imds    *Service
	cgroups []string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error

	mu     sync.Mutex
	leader int
}

// bootTimeout bounds the wait for systemd to reach its default target.
const bootTimeout = 3 * time.Minute

// machineName is the instance's machine name for systemd-nspawn.
func (l *Lab) machineName(index int) string { return nodeNS(l.ID, index) }

// Boot creates the instance's layer and namespace and boots it with
// systemd-nspawn, returning once systemd inside reports the system running
// (or degraded: a unit that fails is the test's business, not the boot's).
func (l *Lab) Boot(ctx context.Context, spec InstanceSpec) (_ *Instance, err error) {
	if spec.Hostname == "" || strings.ContainsAny(spec.Hostname, "/ ") {
		return nil, fmt.Errorf("instance %d: hostname %q is not a host name", spec.Index, spec.Hostname)
	}
	l.mu.Lock()
	if _, dup := l.instances[spec.Index]; dup {
		l.mu.Unlock()
		return nil, fmt.Errorf("instance index %d is already booted in lab %s", spec.Index, l.ID)
	}
	inst := &Instance{Spec: spec, lab: l, Dir: filepath.Join(l.RunDir, "n"+strconv.Itoa(spec.Index)), done: make(chan struct{})}
	l.instances[spec.Index] = inst
	l.mu.Unlock()
	defer func() {
		if err != nil {
			_ = inst.Stop(context.WithoutCancel(ctx))
		}
	}()

	root := filepath.Join(inst.Dir, "root")
	upper := filepath.Join(inst.Dir, "upper")
	for _, d := range []string{root, upper, filepath.Join(inst.Dir, "work")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("instance %s: creating %s: %w", spec.ID, d, err)
		}
	}
	files := map[string]File{
		"/etc/hostname":   {Data: []byte(spec.Hostname + "\n"), Mode: 0o644},
		"/etc/machine-id": {Data: []byte(machineID(l.ID, spec.ID) + "\n"), Mode: 0o444},
		"/etc/hosts": {Data: []byte(fmt.Sprintf("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n%s %s\n",
			spec.IP, spec.Hostname)), Mode: 0o644},
	}
	for p, f := range spec.Files {
		files[p] = f
	}
	for p, f := range files {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("instance %s: file path %q is not absolute", spec.ID, p)
		}
		// Resolve the directories through the base's symbolic links
		// (/lib -> usr/lib on a merged-/usr Debian): a real /lib in the
		// instance's layer would hide the base's whole /usr/lib.
		dst := filepath.Join(upper, resolveIn(l.Base, filepath.Dir(p)), filepath.Base(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("instance %s: %w", spec.ID, err)
		}
		if f.Link != "" {
			_ = os.Remove(dst)
			if err := os.Symlink(f.Link, dst); err != nil {
				return nil, fmt.Errorf("instance %s: linking %s: %w", spec.ID, p, err)
			}
			continue
		}
		if err := os.WriteFile(dst, f.Data, f.Mode); err != nil {
			return nil, fmt.Errorf("instance %s: writing %s: %w", spec.ID, p, err)
		}
		if err := os.Chmod(dst, f.Mode); err != nil {
			return nil, fmt.Errorf("instance %s: %w", spec.ID, err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", l.Base, upper, filepath.Join(inst.Dir, "work"))
	if _, err := run(ctx, "mount", "-t", "overlay", "overlay", "-o", opts, root); err != nil {
		return nil, fmt.Errorf("instance %s: mounting its root file system: %w", spec.ID, err)
	}
	ns, err := l.Net.Attach(ctx, spec.Index, spec.IP)
	if err != nil {
		return nil, err
	}
	inst.NetNS = ns
	if spec.Metadata != nil {
		if err := inst.startMetadata(ctx, *spec.Metadata); err != nil {
			return nil, err
		}
	}
	if spec.Prepare != nil {
		if err := spec.Prepare(ctx, filepath.Join(NetNSDir, ns)); err != nil {
			return nil, fmt.Errorf("instance %s: preparing its network: %w", spec.ID, err)
		}
	}

	args := []string{
		"--quiet", "--boot", "--directory=" + root,
		// The host has no systemd or D-Bus to register with or to create links.
		"--register=no", "--keep-unit",
		"--network-namespace-path=" + filepath.Join(NetNSDir, ns),
		"--machine=" + l.machineName(spec.Index),
		"--hostname=" + spec.Hostname,
		"--console=read-only",
		// The instance's resolver is the VPC's, never the host's.
		"--resolv-conf=off",
	}
	for host, inside := range spec.Binds {
		if err := os.MkdirAll(host, 0o755); err != nil {
			return nil, fmt.Errorf("instance %s: creating bind source %s: %w", spec.ID, host, err)
		}
		args = append(args, "--bind="+host+":"+inside)
	}
	args = append(args, spec.NspawnArgs...)
	inst.Console = filepath.Join(inst.Dir, "console.log")
	out, err := os.Create(inst.Console)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", spec.ID, err)
	}
	// Its own cgroups on a cgroup v1 machine (cgroups.go).
	if inst.cgroups, err = nodeCgroups(l.ID + "-n" + strconv.Itoa(spec.Index)); err != nil {
		out.Close()
		return nil, fmt.Errorf("instance %s: %w", spec.ID, err)
	}
	name, argv := startInCgroups(inst.cgroups, "systemd-nspawn", args)
	cmd := exec.Command(name, argv...)
	cmd.Stdout, cmd.Stderr = out, out
	// The instance owns its network namespace, so its /proc/sys/net is
	// its own to write (the agent sets forwarding and bridge netfilter).
	cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_API_VFS_WRITABLE=network")
	// Its own process group: a signal to the test's terminal does not reach
	// it, Stop decides how it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("instance %s: starting systemd-nspawn: %w", spec.ID, err)
	}
	inst.cmd = cmd
	go func() {
		inst.err = cmd.Wait()
		out.Close()
		close(inst.done)
	}()
	if err := inst.waitBooted(ctx); err != nil {
		return nil, err
	}
	return inst, nil
}

// machineID derives a stable 128-bit machine id from the lab and instance.
func machineID(labID, instanceID string) string {
	h := sha256.Sum256([]byte(labID + "/" + instanceID))
	return hex.EncodeToString(h[:16])
}

// Leader is the pid (on the host) of the instance's init, 0 before it runs.
func (i *Instance) Leader() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.leader != 0 {
		return i.leader
	}
	if i.cmd == nil || i.cmd.Process == nil {
		return 0
	}
	// systemd-nspawn starts the container's init as its own direct child.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", i.cmd.Process.Pid, i.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "systemd" {
			i.leader = pid
		}
	}
	return i.leader
}

func (i *Instance) waitBooted(ctx context.Context) error {
	deadline := time.Now().Add(bootTimeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-i.done:
			return fmt.Errorf("instance %s: systemd-nspawn exited during boot (%v); console: %s", i.Spec.ID, i.err, tail(i.Console, 2000))
		case <-ctx.Done():
			return fmt.Errorf("instance %s: waiting for boot: %w", i.Spec.ID, ctx.Err())
		case <-time.After(time.Second):
		}
		if i.Leader() == 0 {
			continue
		}
		state, _ := i.Exec(ctx, "systemctl", "is-system-running")
		last = strings.TrimSpace(state)
		if last == "running" || last == "degraded" {
			return nil
		}
		// Still "starting" while a long first-boot job runs (the user data,
		// as cloud-init's final stage on EC2): booted once basic.target is.
		if last == "starting" {
			if _, err := i.Exec(ctx, "systemctl", "is-active", "--quiet", "basic.target"); err == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("instance %s: systemd did not finish booting in %s (state %q); console: %s", i.Spec.ID, bootTimeout, last, tail(i.Console, 2000))
}

// Exec runs a program inside the instance (all its namespaces) and returns
// its standard output.
func (i *Instance) Exec(ctx context.Context, name string, args ...string) (string, error) {
	pid := i.Leader()
	if pid == 0 {
		return "", fmt.Errorf("instance %s is not running", i.Spec.ID)
	}
	full := append([]string{"--target", strconv.Itoa(pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--", name}, args...)
	out, err := run(ctx, "nsenter", full...)
	if err != nil {
		return out, fmt.Errorf("instance %s: %w", i.Spec.ID, err)
	}
	return out, nil
}

// stopTimeout bounds a clean shutdown before the instance is killed.
const stopTimeout = 60 * time.Second

// Stop shuts the instance down (cleanly if it can, by force after
// stopTimeout), unmounts its root and removes its namespace and layer.
func (i *Instance) Stop(ctx context.Context) error {
	var errs []error
	if i.cmd != nil && i.cmd.Process != nil {
		// systemd-nspawn turns SIGTERM into an orderly poweroff of the container.
		_ = i.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-i.done:
		case <-time.After(stopTimeout):
			_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
			if pid := i.Leader(); pid != 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			<-i.done
		}
	}
	if err := i.imds.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := removeCgroups(i.cgroups); err != nil {
		errs = append(errs, fmt.Errorf("instance %s: %w", i.Spec.ID, err))
	}
	root := filepath.Join(i.Dir, "root")
	if mounted(root) {
		if _, err := run(ctx, "umount", root); err != nil {
			errs = append(errs, fmt.Errorf("instance %s: %w", i.Spec.ID, err))
		}
	}
	if err := i.lab.Net.Detach(ctx, i.Spec.Index); err != nil {
		errs = append(errs, err)
	}
	// The console outlives the instance, for the post-mortem of a node
	// that powered itself off (kept in the lab's run directory until the
	// lab closes).
	_ = copyFile(i.Console, filepath.Join(i.lab.RunDir, i.Spec.ID+".console.log"), 0o644)
	if len(errs) == 0 {
		if err := os.RemoveAll(i.Dir); err != nil {
			errs = append(errs, fmt.Errorf("instance %s: removing its layer: %w", i.Spec.ID, err))
		}
	}
	i.lab.mu.Lock()
	delete(i.lab.instances, i.Spec.Index)
	i.lab.mu.Unlock()
	return errors.Join(errs...)
}

// Running reports whether the instance's systemd-nspawn is still running.
func (i *Instance) Running() bool {
	select {
	case <-i.done:
		return false
	default:
		return i.cmd != nil
	}
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// startMetadata starts the instance's metadata service inside its namespace
// and waits until it accepts connections.
func (i *Instance) startMetadata(ctx context.Context, m Metadata) error {
	bin, err := EnsureMetadataMock(ctx)
	if err != nil {
		return err
	}
	cfg, err := metadataConfig(m)
	if err != nil {
		return fmt.Errorf("instance %s: metadata configuration: %w", i.Spec.ID, err)
	}
	path := filepath.Join(i.Dir, "imds.json")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return fmt.Errorf("instance %s: %w", i.Spec.ID, err)
	}
	if _, err := run(ctx, "ip", "-n", i.NetNS, "addr", "add", MetadataAddr+"/32", "dev", "lo"); err != nil {
		return fmt.Errorf("instance %s: metadata address: %w", i.Spec.ID, err)
	}
	i.imds, err = StartService(i.NetNS, "imds", filepath.Join(i.Dir, "imds.log"), []string{"HOME=" + i.Dir},
		bin, "--config-file", path, "--hostname", MetadataAddr, "--port", "80")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if exited, err := i.imds.Exited(); exited {
			return fmt.Errorf("instance %s: metadata service exited (%v): %s", i.Spec.ID, err, tail(i.imds.Log, 1500))
		}
		if c, err := DialIn(ctx, i.NetNS, "tcp", MetadataAddr+":80"); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("instance %s: metadata service did not listen within 30s: %s", i.Spec.ID, tail(i.imds.Log, 1500))
}

// resolveIn resolves the symbolic links of directory dir (absolute, inside
// the instance) as the base root file system has them.
func resolveIn(root, dir string) string {
	parts := strings.Split(strings.Trim(dir, "/"), "/")
	cur := "/"
	for hops := 0; len(parts) > 0 && hops < 40; {
		next := filepath.Join(cur, parts[0])
		parts = parts[1:]
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			cur = next
			continue
		}
		hops++
		if !filepath.IsAbs(target) {
			target = filepath.Join(cur, target)
		}
		parts = append(strings.Split(strings.Trim(filepath.Clean(target), "/"), "/"), parts...)
		cur = "/"
	}
	return cur
}
