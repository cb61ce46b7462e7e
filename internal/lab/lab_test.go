package lab

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// newTestLab starts a lab or skips, printing why the machine cannot.
func newTestLab(t *testing.T) *Lab {
	t.Helper()
	if testing.Short() {
		t.Skip("boots real sandboxes; not in -short")
	}
	if err := CheckHost(); err != nil {
		if errors.Is(err, ErrUnsupported) {
			t.Skipf("SKIP (not a pass): %v", err)
		}
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, err := New(ctx, Options{CIDR: netip.MustParsePrefix("10.0.0.0/16"), Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestSandboxes boots two instances, checks that each is a separate machine
// running systemd with its own hostname and address, that they reach each
// other over the VPC and the host reaches them only through a loopback
// forward, that nothing routes out of the lab, and that Close leaves no
// namespace, mount, process or link.
func TestSandboxes(t *testing.T) {
	l := newTestLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	closed := false
	defer func() {
		if !closed {
			_ = l.Close(context.Background())
		}
	}()

	specs := []InstanceSpec{
		{Index: 0, ID: "i-0aaaaaaaaaaaaaaa1", Hostname: "ip-10-0-1-10", IP: netip.MustParseAddr("10.0.1.10")},
		{Index: 1, ID: "i-0bbbbbbbbbbbbbbb2", Hostname: "ip-10-0-2-20", IP: netip.MustParseAddr("10.0.2.20"),
			Files: map[string]File{"/etc/kforge-lab-test": {Data: []byte("only on b\n"), Mode: 0o600}}},
	}
	var insts []*Instance
	for _, s := range specs {
		start := time.Now()
		inst, err := l.Boot(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s booted in %s", s.Hostname, time.Since(start).Round(time.Millisecond))
		insts = append(insts, inst)
	}
	for _, inst := range insts {
		if got, err := inst.Exec(ctx, "hostname"); err != nil || strings.TrimSpace(got) != inst.Spec.Hostname {
			t.Errorf("hostname of %s = %q, %v", inst.Spec.ID, got, err)
		}
		if got, err := inst.Exec(ctx, "cat", "/proc/1/comm"); err != nil || strings.TrimSpace(got) != "systemd" {
			t.Errorf("init of %s = %q, %v; want systemd", inst.Spec.ID, got, err)
		}
		if got, err := inst.Exec(ctx, "ip", "-o", "-4", "addr", "show", "dev", "eth0"); err != nil || !strings.Contains(got, " "+inst.Spec.IP.String()+"/16 ") {
			t.Errorf("eth0 of %s = %q, %v; want %s/16", inst.Spec.ID, got, err, inst.Spec.IP)
		}
		if got, err := inst.Exec(ctx, "cat", "/etc/machine-id"); err != nil || strings.TrimSpace(got) != machineID(l.ID, inst.Spec.ID) {
			t.Errorf("machine id of %s = %q, %v", inst.Spec.ID, got, err)
		}
	}
	// Each instance has its own layer over the shared base.
	if _, err := insts[0].Exec(ctx, "cat", "/etc/kforge-lab-test"); err == nil {
		t.Error("a file written into instance b's layer is visible in instance a")
	}
	if _, err := os.Stat(l.Base + "/etc/kforge-lab-test"); err == nil {
		t.Error("a file written into an instance's layer reached the base")
	}

	// Instance a reaches a service on instance b over the VPC, and the host
	// reaches the same service through a loopback forward only.
	ln, err := ListenIn(insts[1].NetNS, "tcp", insts[1].Spec.IP.String()+":7000")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "hello from b\n")
			c.Close()
		}
	}()
	defer ln.Close()
	got, err := insts[0].Exec(ctx, "bash", "-c", "exec 3<>/dev/tcp/10.0.2.20/7000 && cat <&3")
	if err != nil || strings.TrimSpace(got) != "hello from b" {
		t.Errorf("instance a reading from b over the VPC = %q, %v", got, err)
	}
	// The host holds no lab address (it is never dialled: a lab address
	// seen from the host's namespace would not be the lab's).
	if out, err := run(ctx, "ip", "-o", "addr", "show"); err != nil || strings.Contains(out, " 10.0.2.20/") || strings.Contains(out, " 10.0.1.10/") {
		t.Errorf("the host's namespace holds a lab address (%v):\n%s", err, out)
	}
	fwd, err := NewForward(insts[1].NetNS, "10.0.2.20:7000")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(fwd.Addr(), "127.0.0.1:") {
		t.Errorf("forward listens on %s, want loopback", fwd.Addr())
	}
	c, err := net.DialTimeout("tcp", fwd.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if strings.TrimSpace(string(b)) != "hello from b" {
		t.Errorf("through the loopback forward: %q", b)
	}
	fwd.Close()

	if err := l.CheckIsolation(ctx); err != nil {
		t.Error(err)
	}

	inodes := l.Net.Inodes()
	during, err := Inventory(l.ID, inodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(during.Namespaces) != 3 || len(during.Mounts) < 2 || len(during.Processes) < 2 {
		t.Errorf("while running, the inventory should see 3 namespaces, 2 root mounts and the instances' processes: %s", during)
	}
	ln.Close()
	start := time.Now()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	t.Logf("lab closed in %s", time.Since(start).Round(time.Millisecond))
	after, err := Inventory(l.ID, inodes)
	if err != nil {
		t.Fatal(err)
	}
	if after.Count() != 0 {
		t.Errorf("after Close the lab left: %s", after)
	}
	if _, err := os.Stat(l.RunDir); !os.IsNotExist(err) {
		t.Errorf("after Close %s still exists (%v)", l.RunDir, err)
	}
}

// TestResolveIn: files for /lib land in usr/lib on a merged-/usr base.
func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"usr/lib/modules", "etc"} {
		if err := os.MkdirAll(root+"/"+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("usr/lib", root+"/lib"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/modules", root+"/usr/lib/mods"); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/lib/modules/6.1": "/usr/lib/modules/6.1", "/etc/sysctl.d": "/etc/sysctl.d",
		"/lib/mods/x": "/usr/lib/modules/x", "/": "/", "/new/dir": "/new/dir",
	} {
		if got := resolveIn(root, in); got != want {
			t.Errorf("resolveIn(%q) = %q, want %q", in, got, want)
		}
	}
}
