package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBridgeKeepsItsAddress attaches two instances to a VPC, has the
// second resolve the router and detaches the first: the bridge's address
// must stay the one it was created with throughout, and the remaining
// instance's neighbour entry for the router must still name it. A bridge that took its ports' lowest address changed it when
// that port went, and the nodes lost the emulator for half a minute (the
// lab's Self-heal backup failed with "dial tcp 10.40.0.3:5000: i/o
// timeout" right after a scale-in stopped a node).
func TestBridgeKeepsItsAddress(t *testing.T) {
	needNamespaces(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := NewNetwork(ctx, fmt.Sprintf("b%d", os.Getpid()%100000), netip.MustParsePrefix("10.77.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for i := range 2 {
			if err := n.Detach(context.Background(), i); err != nil {
				t.Error(err)
			}
		}
		if err := n.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	bridge := func() string { return linkAddress(ctx, t, n.NS, "vpc0") }
	if got := bridge(); got != bridgeMAC {
		t.Fatalf("new bridge has address %s, want %s", got, bridgeMAC)
	}
	for i, addr := range []string{"10.77.0.10", "10.77.0.11"} {
		if _, err := n.Attach(ctx, i, netip.MustParseAddr(addr)); err != nil {
			t.Fatal(err)
		}
		if got := bridge(); got != bridgeMAC {
			t.Fatalf("after attaching instance %d the bridge has address %s, want %s", i, got, bridgeMAC)
		}
	}
	// Instance 1 resolves the router (a TCP connection the router refuses
	// is enough), then instance 0 goes.
	probe := fmt.Sprintf("exec 3<>/dev/tcp/%s/9 || true", n.Gateway)
	if _, err := run(ctx, "ip", "netns", "exec", nodeNS(n.LabID, 1), "timeout", "5", "bash", "-c", probe); err != nil {
		t.Fatal(err)
	}
	if err := n.Detach(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got := bridge(); got != bridgeMAC {
		t.Fatalf("after detaching instance 0 the bridge has address %s, want %s", got, bridgeMAC)
	}
	neigh, err := run(ctx, "ip", "-n", nodeNS(n.LabID, 1), "neigh", "show", n.Gateway.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(neigh, "lladdr "+bridgeMAC) {
		t.Fatalf("instance 1's neighbour entry for the router is %q, want the bridge's address %s", strings.TrimSpace(neigh), bridgeMAC)
	}
}

// needNamespaces skips a test that creates network namespaces in -short
// and where it cannot: without root or without ip.
func needNamespaces(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("creates network namespaces; not in -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIP (not a pass): creating network namespaces needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("SKIP (not a pass): no ip (apt-get install iproute2)")
	}
}

// linkAddress reads a link's hardware address inside namespace ns.
func linkAddress(ctx context.Context, t *testing.T, ns, link string) string {
	t.Helper()
	out, err := run(ctx, "ip", "netns", "exec", ns, "cat", "/sys/class/net/"+link+"/address")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}
