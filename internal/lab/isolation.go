package lab

import (
	"context"
	"fmt"
	"strings"
)

// probeAddr is an address outside the machine (TEST-NET-1, RFC 5737): only
// the route lookup for it is made, no packet is ever sent to it.
const probeAddr = "192.0.2.1"

// CheckIsolation verifies the network rules: no lab namespace has a link
// into the host's namespace (the VPC's veths all end in lab namespaces and
// no host link ends in one), the
// VPC namespace has no route beyond the VPC, and every node's only way
// beyond the VPC is the VPC router, which has none.
func (l *Lab) CheckIsolation(ctx context.Context) error {
	// The VPC namespace holds the bridge and one veth per node: each must
	// end in a lab namespace.
	if err := vethPeers(ctx, []string{"-n", l.Net.NS}, func(peer, line string) error {
		if !isLabName(peer) {
			return fmt.Errorf("the lab VPC namespace %s has a link whose other end is outside the lab (link-netns %q): %s", l.Net.NS, peer, line)
		}
		return nil
	}); err != nil {
		return err
	}
	// From the host's side: no host link ends in a lab namespace.
	if err := vethPeers(ctx, nil, func(peer, line string) error {
		if isLabName(peer) {
			return fmt.Errorf("the host's network namespace has a link into lab namespace %s: %s", peer, line)
		}
		return nil
	}); err != nil {
		return err
	}
	if out, err := run(ctx, "ip", "-n", l.Net.NS, "route", "get", probeAddr); err == nil {
		return fmt.Errorf("the lab VPC namespace %s has a route beyond the lab: %s", l.Net.NS, strings.TrimSpace(out))
	}
	for _, ns := range l.nodeNamespaces() {
		out, err := run(ctx, "ip", "-n", ns, "route", "get", probeAddr)
		if err != nil {
			continue // no route at all is as isolated as it gets
		}
		if !strings.Contains(out, " via "+l.Net.Gateway.String()+" ") {
			return fmt.Errorf("node namespace %s routes beyond the VPC other than through the VPC router %s: %s", ns, l.Net.Gateway, strings.TrimSpace(out))
		}
	}
	return nil
}

func (l *Lab) nodeNamespaces() []string {
	var out []string
	for _, i := range l.Instances() {
		if i.NetNS != "" {
			out = append(out, i.NetNS)
		}
	}
	return out
}

// vethPeers calls check with the peer namespace name of every veth that
// `ip [-n ns]` lists.
func vethPeers(ctx context.Context, nsArgs []string, check func(peer, line string) error) error {
	args := append(append([]string{}, nsArgs...), "-o", "-d", "link", "show", "type", "veth")
	out, err := run(ctx, "ip", args...)
	if err != nil {
		return fmt.Errorf("listing links: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		if err := check(fieldAfter(line, "link-netns"), line); err != nil {
			return err
		}
	}
	return nil
}

// fieldAfter returns the word following key in an `ip -o` line.
func fieldAfter(line, key string) string {
	f := strings.Fields(line)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == key {
			return f[i+1]
		}
	}
	return ""
}
