package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// The workers' outbound rules kforge makes (terraform/modules/node-group
// security.tf: HTTPS, HTTP for ACME, NFS, the API on the control plane,
// and four ports each to the workers' and the control plane's groups),
// within EC2's default of 60 outbound rules per group.
const (
	defaultOutboundRulesQuota = 60
	workerOutboundRules       = 12
)

// egressDescription is what EC2 takes as a security group rule's
// description (up to 255 characters).
var egressDescription = regexp.MustCompile(`^[a-zA-Z0-9. _:/()#,@+=&;{}!$*\[\]-]*$`)

// portsPattern is one port or a range, digits only.
var portsPattern = regexp.MustCompile(`^[1-9][0-9]{0,4}(-[1-9][0-9]{0,4})?$`)

// parsePorts reads "5432" or "9092-9094" as a range within 1-65535.
func parsePorts(s string) (from, to int, ok bool) {
	if !portsPattern.MatchString(s) {
		return 0, 0, false
	}
	lo, hi, isRange := strings.Cut(s, "-")
	from, err := strconv.Atoi(lo)
	if err != nil {
		return 0, 0, false
	}
	to = from
	if isRange {
		if to, err = strconv.Atoi(hi); err != nil {
			return 0, 0, false
		}
	}
	return from, to, from >= 1 && from <= to && to <= 65535
}

// workerEgress checks network.workerEgress: each rule one EC2 takes, none
// listed twice or already made by kforge (EC2 refuses an identical second
// rule, InvalidPermission.Duplicate, mid-apply), all within the quota of
// outbound rules. vpc is the VPC's range, invalid when it is not valid.
func (v *validator) workerEgress(vpc netip.Prefix) {
	rules := v.c.Network.WorkerEgress
	seen := map[string]int{}
	for i, r := range rules {
		path := fmt.Sprintf("network.workerEgress[%d]", i)
		p, msg, fix := parseCIDR(r.CIDR)
		if msg != "" {
			v.errorf(path+".cidr", fix, "%s", msg)
		}
		if r.Protocol != "tcp" && r.Protocol != "udp" {
			v.errorf(path+".protocol", "write tcp or udp", "%q is neither tcp nor udp", r.Protocol)
		}
		from, to, ok := parsePorts(r.Ports)
		if !ok {
			v.errorf(path+".ports", `write one port ("5432") or a range ("9092-9094") within 1-65535`, "%q is not a port or a range of ports", r.Ports)
		}
		if len(r.Description) > 255 || !egressDescription.MatchString(r.Description) {
			v.errorf(path+".description", "use at most 255 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*",
				"EC2 refuses %q as a rule's description", r.Description)
		}
		if msg != "" || !ok {
			continue
		}
		rule := fmt.Sprintf("%s %d-%d to %s", r.Protocol, from, to, p)
		if v.repeated(seen, rule, "network.workerEgress", i) {
			continue
		}
		if why := kforgeOpens(r.Protocol, from, to, p, vpc); why != "" {
			v.errorf(path, "remove it: the workers may already reach it", "%s is a rule kforge makes already (%s)", rule, why)
		}
	}
	if room := defaultOutboundRulesQuota - workerOutboundRules; len(rules) > room {
		v.warnf("network.workerEgress", fmt.Sprintf("merge rules to at most %d, or ask AWS to raise the quota of outbound rules per security group first (Service Quotas, VPC)", room),
			"%d rules are %d outbound rules on the workers' security group with kforge's %d; a group takes %d by default, and the apply stops at the one over",
			len(rules), len(rules)+workerOutboundRules, workerOutboundRules, defaultOutboundRulesQuota)
	}
}

// kforgeOpens says which of kforge's own outbound rules of the workers is
// exactly this one, or "".
func kforgeOpens(protocol string, from, to int, p, vpc netip.Prefix) string {
	if protocol != "tcp" || from != to {
		return ""
	}
	switch {
	case from == 443 && p.Bits() == 0:
		return "HTTPS anywhere"
	case from == 80 && p.Bits() == 0:
		return "HTTP anywhere, for ACME"
	case from == 2049 && vpc.IsValid() && p == vpc:
		return "NFS within the VPC"
	}
	return ""
}
