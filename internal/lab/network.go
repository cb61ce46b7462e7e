package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// NetNSDir is where `ip netns` keeps its named namespaces.
const NetNSDir = "/run/netns"

// namePrefix starts every namespace, link and machine name the lab creates,
// so a sweep finds what a killed lab left behind.
const namePrefix = "kforge-lab-"

// Network is the VPC of one lab: a bridge inside a namespace of its own. The
// bridge holds the VPC router address (the first host address of the CIDR);
// the namespace has no link to the host and an unreachable default route.
type Network struct {
	LabID   string
	NS      string
	CIDR    netip.Prefix
	Gateway netip.Addr
	// inodes of every namespace this network created, for Inventory.
	inodes map[string]uint64
}

// bridgeMAC is the VPC bridge's own address (locally administered). A
// bridge without one takes the lowest address of its ports and changes it
// when that port goes; the nodes' neighbour entries for the router, the
// emulator and the resolver (all on the bridge) then name a link that no
// longer exists, and every node loses the VPC's services until its entry
// expires (half a minute and more). A lab stops nodes whenever a group
// scales in, so the address is set once, and a bridge keeps an address it
// was given.
const bridgeMAC = "02:6b:66:00:00:01"

// vpcNS names the VPC namespace of a lab.
func vpcNS(labID string) string { return namePrefix + labID + "-vpc" }

// nodeNS names an instance's namespace.
func nodeNS(labID string, index int) string {
	return namePrefix + labID + "-n" + strconv.Itoa(index)
}

// vethName is the VPC side of an instance's link (at most 15 bytes).
func vethName(labID string, index int) string { return "kl" + labID + "n" + strconv.Itoa(index) }

// NewNetwork creates the VPC namespace and its bridge for cidr.
func NewNetwork(ctx context.Context, labID string, cidr netip.Prefix) (*Network, error) {
	if !cidr.Addr().Is4() || cidr.Bits() > 28 {
		return nil, fmt.Errorf("lab VPC CIDR %s: need an IPv4 prefix of /28 or larger", cidr)
	}
	n := &Network{LabID: labID, NS: vpcNS(labID), CIDR: cidr.Masked(), inodes: map[string]uint64{}}
	n.Gateway = n.CIDR.Addr().Next()
	if err := n.addNS(ctx, n.NS); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"-n", n.NS, "link", "set", "lo", "up"},
		{"-n", n.NS, "link", "add", "vpc0", "address", bridgeMAC, "type", "bridge"},
		{"-n", n.NS, "addr", "add", fmt.Sprintf("%s/%d", n.Gateway, n.CIDR.Bits()), "dev", "vpc0"},
		{"-n", n.NS, "link", "set", "vpc0", "up"},
		// Anything not in the VPC is unreachable: no traffic leaves the lab.
		{"-n", n.NS, "route", "add", "unreachable", "default"},
	}
	for _, s := range steps {
		if _, err := run(ctx, "ip", s...); err != nil {
			n.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("creating the lab VPC: %w", err)
		}
	}
	// Pods on different nodes talk through the nodes' own routes, never
	// through this namespace; it forwards nothing.
	if err := n.sysctl(ctx, n.NS, "net.ipv4.ip_forward", "0"); err != nil {
		n.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return n, nil
}

func (n *Network) addNS(ctx context.Context, name string) error {
	if _, err := run(ctx, "ip", "netns", "add", name); err != nil {
		return fmt.Errorf("creating network namespace %s: %w", name, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(NetNSDir+"/"+name, &st); err != nil {
		return fmt.Errorf("reading network namespace %s: %w", name, err)
	}
	n.inodes[name] = st.Ino
	return nil
}

func (n *Network) sysctl(ctx context.Context, ns, key, value string) error {
	if _, err := run(ctx, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", key+"="+value); err != nil {
		return fmt.Errorf("setting %s in %s: %w", key, ns, err)
	}
	return nil
}

// Attach creates the namespace of instance index, with eth0 holding addr on
// the VPC bridge and a default route through the VPC router. It returns the
// namespace's name.
func (n *Network) Attach(ctx context.Context, index int, addr netip.Addr) (string, error) {
	if !n.CIDR.Contains(addr) || addr == n.Gateway || addr == n.CIDR.Addr() {
		return "", fmt.Errorf("instance address %s is not a host address of the lab VPC %s (router %s)", addr, n.CIDR, n.Gateway)
	}
	ns := nodeNS(n.LabID, index)
	veth := vethName(n.LabID, index)
	if err := n.addNS(ctx, ns); err != nil {
		return "", err
	}
	steps := [][]string{
		{"-n", n.NS, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"-n", n.NS, "link", "set", veth, "master", "vpc0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", fmt.Sprintf("%s/%d", addr, n.CIDR.Bits()), "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "route", "add", "default", "via", n.Gateway.String(), "dev", "eth0"},
	}
	for _, s := range steps {
		if _, err := run(ctx, "ip", s...); err != nil {
			n.Detach(context.WithoutCancel(ctx), index)
			return "", fmt.Errorf("attaching instance %d (%s) to the lab VPC: %w", index, addr, err)
		}
	}
	return ns, nil
}

// AddAddress puts one more address on the VPC bridge (for a lab service such
// as the emulator or the DNS resolver) and returns the namespace to run it in.
func (n *Network) AddAddress(ctx context.Context, addr netip.Addr) error {
	if !n.CIDR.Contains(addr) {
		return fmt.Errorf("service address %s is outside the lab VPC %s", addr, n.CIDR)
	}
	if _, err := run(ctx, "ip", "-n", n.NS, "addr", "add", fmt.Sprintf("%s/32", addr), "dev", "vpc0"); err != nil {
		return fmt.Errorf("adding %s to the lab VPC: %w", addr, err)
	}
	return nil
}

// Detach removes instance index's namespace; its veth pair goes with it.
func (n *Network) Detach(ctx context.Context, index int) error {
	return n.delNS(ctx, nodeNS(n.LabID, index))
}

func (n *Network) delNS(ctx context.Context, name string) error {
	if _, err := os.Stat(NetNSDir + "/" + name); os.IsNotExist(err) {
		return nil
	}
	if _, err := run(ctx, "ip", "netns", "del", name); err != nil {
		return fmt.Errorf("deleting network namespace %s: %w", name, err)
	}
	return nil
}

// Close removes the VPC namespace (and with it the bridge).
func (n *Network) Close(ctx context.Context) error {
	return n.delNS(ctx, n.NS)
}

// Inodes returns the namespace inodes this network created, by name.
func (n *Network) Inodes() map[string]uint64 {
	out := make(map[string]uint64, len(n.inodes))
	for k, v := range n.inodes {
		out[k] = v
	}
	return out
}

// isLabName reports whether a namespace or machine name is the lab's.
func isLabName(name string) bool { return strings.HasPrefix(name, namePrefix) }
