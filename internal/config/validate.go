package config

import (
	"fmt"
	"maps"
	"net/mail"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kforge/kforge/internal/kubeadm"
)

// Limits enforced by the rules below.
const (
	minAZCount        = 1 // development only: see network()
	maxAZCount        = 6
	minProdAZCount    = 3
	minVPCPrefix      = 16 // AWS allows /16 to /28; subnets per AZ need /24 at most
	maxVPCPrefix      = 24
	minNodePort       = 30000
	maxNodePort       = 32767
	minVolumeSize     = 20 // GiB: OS, container images and logs
	maxVolumeSize     = 16384
	maxPoolSize       = 1000
	maxInstanceTypes  = 20
	maxPoolName       = 16 // as the root module's worker_pools validation
	maxUserTags       = 40 // AWS allows 50 per resource; kforge and the modules add their own
	maxTagKey         = 128
	maxTagValue       = 256
	minServicePrefix  = 12 // kube-apiserver refuses service ranges larger than /12
	maxServicePrefix  = 24
	nodeMaskSize      = 24 // kube-controller-manager gives each node a /24 of the pod CIDR
	maxLabelValue     = 63
	maxLabelNamePart  = 63
	maxLabelKeyPrefix = 253
)

// defaultElasticIPQuota is an account's Elastic IP addresses per region
// unless raised (Amazon VPC quotas).
const defaultElasticIPQuota = 5

// The node subnets (terraform/modules/network: cidrsubnet(vpc_cidr, 4, i)),
// the addresses AWS reserves in each, and those kept per zone beside the
// nodes (see nodeAddresses).
const (
	subnetNewBits        = 4
	awsReservedPerSubnet = 5
	keptPerZone          = 10
)

// A worker pool's Auto Scaling group carries the user's tags, each label and
// taint as a Cluster Autoscaler template tag, and twelve of kforge's own
// (the two cluster tags, Name, kforge.io/role and kforge.io/pool, two
// autoscaler discovery tags, the template's pool label and ephemeral
// storage, the capacity-type and ingress labels, and the roll's marker),
// within EC2 Auto Scaling's 50 tags per group.
const maxPoolTagsLabelsTaints = 38

// autoscalerTemplateTagPrefix is how Cluster Autoscaler's node-template tag
// keys begin (terraform/modules/node-group asg.tf: .../label/<key> and
// .../taint/<key>, both this long), so a label or taint key may be as long
// as EC2 Auto Scaling's 128-character tag keys leave after it.
const (
	autoscalerTemplateTagPrefix = "k8s.io/cluster-autoscaler/node-template/label/"
	maxTemplatedKey             = maxTagKey - len(autoscalerTemplateTagPrefix)
)

// The control plane's security group holds ten inbound rules of kforge's
// own (the API from the VPC, etcd, and the kubelet and Cilium ports from
// itself and from the workers: terraform/modules/node-group security.tf)
// and one per admin CIDR, within EC2's default 60 inbound rules per group.
const (
	defaultInboundRulesQuota = 60
	controllerInboundRules   = 10
)

// specialRanges are IPv4 ranges a pod or service network must not overlap:
// "this network", loopback, link-local (where the instance metadata service,
// the VPC's DNS resolver and NTP answer) and multicast with the reserved
// block above it.
var specialRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/3"),
}

var (
	labelName   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$`)
	tagChars    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	taintEffect = map[string]bool{"NoSchedule": true, "PreferNoSchedule": true, "NoExecute": true}
)

// validator checks a defaulted Cluster; every rule reports with the position
// of the value the files set (or of its nearest parent when defaulted).
type validator struct {
	c        *Cluster
	set      map[string]position
	file     string
	errs     []FieldError
	warnings []FieldError
}

func (v *validator) where(path string) position {
	for p := path; ; p = parentPath(p) {
		if pos, ok := v.set[p]; ok {
			return pos
		}
		if p == "" {
			return position{v.file, 0}
		}
	}
}

func (v *validator) isSet(path string) bool { _, ok := v.set[path]; return ok }

// setWeight ranks where a value came from: 2 the environment file, 1 the
// base file, 0 a default.
func (v *validator) setWeight(path string) int {
	pos, ok := v.set[path]
	switch {
	case !ok:
		return 0
	case pos.file == v.file:
		return 2
	default:
		return 1
	}
}

func (v *validator) errorf(path, fix, format string, args ...any) {
	pos := v.where(path)
	v.errs = append(v.errs, FieldError{File: pos.file, Line: pos.line, Field: path, Message: fmt.Sprintf(format, args...), Fix: fix})
}

func (v *validator) warnf(path, fix, format string, args ...any) {
	pos := v.where(path)
	v.warnings = append(v.warnings, FieldError{File: pos.file, Line: pos.line, Field: path, Message: fmt.Sprintf(format, args...), Fix: fix})
}

// isDev reports whether the environment is for development, where one
// availability zone is an intended saving rather than a finding.
func (c *Cluster) isDev() bool {
	return c.Environment == "dev" || c.Environment == "development" || c.Environment == "local"
}

// isProd reports whether production-only rules apply.
func (c *Cluster) isProd() bool { return c.Environment == "prod" || c.Environment == "production" }

func (v *validator) validate() {
	v.identity()
	v.state()
	v.network()
	v.logging()
	v.efsBackups()
	v.dns()
	v.kubernetes()
	v.ingress()
	v.controlPlane()
	v.workerPools()
	v.tags()
	v.derivedNames()
}

func (v *validator) identity() {
	c := v.c
	switch {
	case c.Name == "":
		v.errorf("name", "add name: <cluster name>, for example name: demo-dev", "is required")
	case len(c.Name) < minClusterName || len(c.Name) > maxClusterName:
		v.errorf("name", fmt.Sprintf("use %d-%d characters", minClusterName, maxClusterName),
			"%q has %d characters; cluster names are %d-%d characters so derived AWS names stay within their limits",
			c.Name, len(c.Name), minClusterName, maxClusterName)
	case !clusterName.MatchString(c.Name) || strings.Contains(c.Name, "--"):
		v.errorf("name", "use lowercase letters, digits and single hyphens, starting with a letter, for example "+suggestName(c.Name),
			"%q is not a lowercase DNS label starting with a letter", c.Name)
	}
	for _, r := range reservedNamePrefixes {
		if strings.HasPrefix(c.Name, r.prefix) {
			v.errorf("name", "use a name that does not start with "+r.prefix,
				"%q starts with %s, which %s", c.Name, r.prefix, r.who)
		}
	}

	if !envNamePattern.MatchString(c.Environment) {
		v.errorf("environment", "use a short lowercase name such as dev, staging, prod or local",
			"%q is not a valid environment name (lowercase letter first, then letters, digits, hyphens; at most 16)", c.Environment)
	} else if fileEnv := fileEnvName(v.file); v.isSet("environment") && envNamePattern.MatchString(fileEnv) && fileEnv != c.Environment && fileEnv != "base" {
		v.errorf("environment", fmt.Sprintf("set environment: %s, or rename the file to %s.yaml", fileEnv, c.Environment),
			"%q does not match the file name %s.yaml; kforge keys state and work directories by the file name", c.Environment, fileEnv)
	}

	v.region("region", c.Region)

	if c.Emulator && c.AMIID == "" {
		v.errorf("amiID", "pin an AMI that exists in the emulator, for example the one in envs/local.yaml",
			"is required when emulator is true: the emulator has no public SSM parameter for the Amazon Linux 2023 AMI")
	}
	if c.AMIID != "" && !amiPattern.MatchString(c.AMIID) {
		v.errorf("amiID", "use an AMI id such as ami-0123456789abcdef0, or leave amiID out to use the latest Amazon Linux 2023",
			"%q is not an AMI id (ami- followed by 8 or 17 hex digits)", c.AMIID)
	}
}

func (v *validator) region(path, region string) {
	switch {
	case region == "":
		v.errorf(path, "add "+lastSegment(path)+": <region>, for example us-east-1", "is required")
	case !regionPattern.MatchString(region):
		v.errorf(path, "write a region code such as eu-west-1"+didYouMean(region, knownRegions),
			"%q is not an AWS region code", region)
	case !isKnownRegion(region):
		v.errorf(path, "use a known region"+didYouMean(region, knownRegions)+"; if AWS opened a new one, add it to knownRegions in internal/config/names.go",
			"%q is not a known AWS region", region)
	}
}

func (v *validator) state() {
	c := v.c
	if c.State.Bucket != "" {
		if msg := checkBucketName(c.State.Bucket); msg != "" {
			v.errorf("state.bucket", "choose a valid S3 bucket name, or leave state.bucket out to use kforge-state-<account>-<region>", "%s", msg)
		} else if strings.Contains(c.State.Bucket, ".") {
			v.warnf("state.bucket", "prefer hyphens to dots", "%q contains dots, which break virtual-hosted TLS access to S3", c.State.Bucket)
		}
	}
	if v.isSet("state.key") {
		switch {
		case c.State.Key == "":
			v.errorf("state.key", "leave state.key out to use <name>/<environment>/terraform.tfstate", "must not be empty")
		case strings.HasPrefix(c.State.Key, "/") || strings.Contains(c.State.Key, "//") || strings.HasSuffix(c.State.Key, "/"):
			v.errorf("state.key", "write a relative object key such as demo/dev/terraform.tfstate", "%q is not a clean object key (no leading, trailing or double slash)", c.State.Key)
		case len(c.State.Key) > 1024:
			v.errorf("state.key", "shorten the key", "is %d bytes; S3 keys are at most 1024", len(c.State.Key))
		}
	}
	if v.isSet("state.region") {
		v.region("state.region", c.State.Region)
	}
}

// parseCIDR parses a canonical IPv4 CIDR; the message explains what is wrong.
func parseCIDR(s string) (netip.Prefix, string, string) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Sprintf("%q is not a CIDR", s), "write an IPv4 CIDR such as 10.0.0.0/16"
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Sprintf("%q is not an IPv4 CIDR", s), "write an IPv4 CIDR such as 10.0.0.0/16"
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Sprintf("%q has host bits set", s), fmt.Sprintf("did you mean %s?", p.Masked())
	}
	return p, "", ""
}

func (v *validator) network() {
	c := v.c
	n := c.Network
	switch {
	case n.AZCount < minAZCount || n.AZCount > maxAZCount:
		v.errorf("network.azCount", fmt.Sprintf("set network.azCount between %d and %d", minAZCount, maxAZCount),
			"%d is out of range: the NLB, EFS and workers are spread over %d to %d availability zones (1 for development only)", n.AZCount, minAZCount, maxAZCount)
	case c.isProd() && n.AZCount < minProdAZCount:
		// An error, not a warning: with two AZs the loss of one halves capacity
		// and leaves no spread for the autoscaler to rebalance into.
		v.errorf("network.azCount", fmt.Sprintf("set network.azCount: %d or more for production", minProdAZCount),
			"%d is too few for a production environment", n.AZCount)
	}
	if n.AZCount == 1 && !c.isProd() && !c.isDev() {
		// Nothing in kforge needs a second zone (an NLB may sit in one subnet;
		// EFS takes one mount target per zone used), but one zone is one
		// failure domain.
		v.warnf("network.azCount", "use azCount: 2 or more for anything but development",
			"one availability zone: the NLB, the EFS mount target, the control plane and every pool share it; an outage of that zone stops the cluster, and Spot pools draw from one zone's capacity")
	}

	vpc, vpcMsg, vpcFix := parseCIDR(n.VPCCIDR)
	if vpcMsg != "" {
		v.errorf("network.vpcCIDR", vpcFix, "%s", vpcMsg)
	} else {
		if vpc.Bits() < minVPCPrefix || vpc.Bits() > maxVPCPrefix {
			v.errorf("network.vpcCIDR", fmt.Sprintf("use a prefix between /%d and /%d, for example %s", minVPCPrefix, maxVPCPrefix, DefaultVPCCIDR),
				"/%d is outside /%d-/%d (AWS allows /16 at most; subnets for %d AZs need room)", vpc.Bits(), minVPCPrefix, maxVPCPrefix, n.AZCount)
		} else if !vpc.Addr().IsPrivate() {
			v.warnf("network.vpcCIDR", "use a private (RFC 1918) range such as 10.0.0.0/16",
				"%s is not a private address range", vpc)
		}
		if n.AZCount >= minAZCount && vpc.Bits() <= maxVPCPrefix {
			v.nodeAddresses(vpc.Bits())
		}
	}

	seen := map[string]int{}
	for i, s := range n.AdminCIDRs {
		path := fmt.Sprintf("network.adminCIDRs[%d]", i)
		p, msg, fix := parseCIDR(s)
		if msg != "" {
			v.errorf(path, fix, "%s", msg)
			continue
		}
		if v.repeated(seen, p.String(), "network.adminCIDRs", i) {
			continue
		}
		if vpcMsg == "" && p == vpc {
			// The API is open to the VPC by a rule of its own; EC2 refuses a
			// second identical rule (InvalidPermission.Duplicate) mid-apply.
			v.errorf(path, "remove it: the VPC may already reach the API",
				"%s is network.vpcCIDR, which the control plane's security group already admits", p)
			continue
		}
		if p.Bits() == 0 {
			if c.isProd() {
				// Decided: production never opens the API server to the whole internet.
				v.errorf(path, "list the networks of your operators, for example 203.0.113.0/24",
					"0.0.0.0/0 opens the Kubernetes API to the whole internet, which production does not allow")
			} else {
				v.warnf(path, "list the networks of your operators instead",
					"0.0.0.0/0 opens the Kubernetes API to the whole internet")
			}
		}
	}
	v.excludedZones()
	v.workerEgress(vpc)
	if room := defaultInboundRulesQuota - controllerInboundRules; len(n.AdminCIDRs) > room {
		v.warnf("network.adminCIDRs", fmt.Sprintf("merge ranges to at most %d, or ask AWS to raise the quota of inbound rules per security group first (Service Quotas, VPC)", room),
			"%d CIDRs are %d inbound rules on the control plane's security group with kforge's %d; a group takes %d by default, and the apply stops at the one over",
			len(n.AdminCIDRs), len(n.AdminCIDRs)+controllerInboundRules, controllerInboundRules, defaultInboundRulesQuota)
	}
	// One Elastic IP per zone's NAT gateway, against a default quota of 5
	// per region that the account's other clusters share.
	if n.NATGateway && n.AZCount > defaultElasticIPQuota {
		v.warnf("network.azCount", fmt.Sprintf("ask AWS to raise the Elastic IP quota of the region above %d first (Service Quotas, EC2-VPC Elastic IPs), or use %d zones", n.AZCount, defaultElasticIPQuota),
			"%d NAT gateways need %d Elastic IP addresses; an account gets %d per region by default, and the apply stops at the one over", n.AZCount, n.AZCount, defaultElasticIPQuota)
	}
	if c.isProd() && !n.NATGateway {
		v.warnf("network.natGateway", "set network.natGateway: true to keep nodes in private subnets",
			"production nodes get public addresses without a NAT gateway")
	}
}

// excludedZones checks network.excludeZoneIDs. Whether an ID is one of the
// region's zones needs an AWS call: plan and up check that before anything
// is applied.
func (v *validator) excludedZones() {
	seen := map[string]int{}
	for i, id := range v.c.Network.ExcludeZoneIDs {
		if !azIDPattern.MatchString(id) {
			v.errorf(fmt.Sprintf("network.excludeZoneIDs[%d]", i), "write a zone ID such as use1-az3, as `aws ec2 describe-availability-zones` lists it (ZoneId), not a zone name such as us-east-1e",
				"%q is not an Availability Zone ID", id)
			continue
		}
		v.repeated(seen, id, "network.excludeZoneIDs", i)
	}
}

// repeated reports whether value stood earlier in the list field, with an
// error at field[i] naming where; a first occurrence is recorded in seen.
func (v *validator) repeated(seen map[string]int, value, field string, i int) bool {
	if j, dup := seen[value]; dup {
		v.errorf(fmt.Sprintf("%s[%d]", field, i), "remove the duplicate", "%s is already listed at %s[%d]", value, field, j)
		return true
	}
	seen[value] = i
	return false
}

func (v *validator) logging() {
	l := v.c.Logging
	if l.RetentionDays < 1 || l.RetentionDays > 3650 {
		v.errorf("logging.retentionDays", "choose between 1 and 3650 days, for example 90",
			"%d days is outside 1-3650", l.RetentionDays)
	}
	if v.c.isProd() && !l.VPCFlowLogs {
		v.warnf("logging.vpcFlowLogs", "set logging.vpcFlowLogs: true",
			"production without VPC flow logs leaves no record of the network's connections")
	}
	if v.c.isProd() && !l.BucketAccessLogs {
		v.warnf("logging.bucketAccessLogs", "set logging.bucketAccessLogs: true",
			"production without access logs leaves no record of who read the CA key and etcd snapshots")
	}
}

// efsBackups warns of a production cluster whose volumes have no backup:
// a claim deleted with reclaim policy Delete, or a down, loses their data.
func (v *validator) efsBackups() {
	if v.c.isProd() && !v.c.EFSBackups {
		v.warnf("efsBackups", "set efsBackups: true",
			"production without EFS backups keeps no copy of the volumes' data: a deleted claim or a kforge down loses it for good")
	}
}

func (v *validator) dns() {
	d := v.c.DNS
	if d.Domain == "" {
		v.errorf("dns.domain", "add dns.domain, for example dev.example.com", "is required")
	} else if msg := checkDomain(d.Domain); msg != "" {
		v.errorf("dns.domain", "write a domain such as dev.example.com", "%s", msg)
	}
	if d.ZoneID != "" && !zoneIDPattern.MatchString(d.ZoneID) {
		v.errorf("dns.zoneID", "use a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ, or leave zoneID out to create a zone",
			"%q is not a Route 53 hosted zone id", d.ZoneID)
	}
	switch d.Registrar {
	case "porkbun", "none":
		if d.ParentZoneID != "" {
			v.errorf("dns.parentZoneID", "remove dns.parentZoneID, or set dns.registrar: route53",
				"is only used with registrar route53 (registrar is %q)", d.Registrar)
		}
	case "route53":
		if d.ParentZoneID == "" {
			v.errorf("dns.parentZoneID", "set the id of the Route 53 zone of the parent domain",
				"is required with registrar route53: the delegation NS record is written there")
		} else if !zoneIDPattern.MatchString(d.ParentZoneID) {
			v.errorf("dns.parentZoneID", "use a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ",
				"%q is not a Route 53 hosted zone id", d.ParentZoneID)
		} else if d.ParentZoneID == d.ZoneID {
			v.errorf("dns.parentZoneID", "use the parent domain's zone, not the cluster's own",
				"is the same as dns.zoneID")
		}
	default:
		v.errorf("dns.registrar", "use porkbun, route53 or none"+didYouMean(d.Registrar, []string{"porkbun", "route53", "none"}),
			"%q is not a supported registrar", d.Registrar)
	}
}

func (v *validator) kubernetes() {
	k := v.c.Kubernetes
	if msg := checkKubernetesVersion(k.Version); msg != "" {
		v.errorf("kubernetes.version", supportedVersionsHint(), "%s", msg)
	}
	pod, podMsg, podFix := parseCIDR(k.PodCIDR)
	if podMsg != "" {
		v.errorf("kubernetes.podCIDR", podFix, "%s", podMsg)
	}
	svc, svcMsg, svcFix := parseCIDR(k.ServiceCIDR)
	if svcMsg != "" {
		v.errorf("kubernetes.serviceCIDR", svcFix, "%s", svcMsg)
	}
	if svcMsg == "" && (svc.Bits() < minServicePrefix || svc.Bits() > maxServicePrefix) {
		v.errorf("kubernetes.serviceCIDR", fmt.Sprintf("use a prefix between /%d and /%d, for example %s", minServicePrefix, maxServicePrefix, DefaultServiceCIDR),
			"/%d is outside /%d-/%d", svc.Bits(), minServicePrefix, maxServicePrefix)
	}
	for _, r := range []struct {
		path, example string
		p             netip.Prefix
		ok            bool
	}{
		{"kubernetes.podCIDR", DefaultPodCIDR, pod, podMsg == ""},
		{"kubernetes.serviceCIDR", DefaultServiceCIDR, svc, svcMsg == ""},
	} {
		for _, special := range specialRanges {
			if r.ok && r.p.Overlaps(special) {
				v.errorf(r.path, "use a private range, for example "+r.example,
					"%s overlaps %s, which is not routable between nodes (this network, loopback, link-local with the instance metadata service, or multicast)", r.p, special)
				break
			}
		}
	}
	if podMsg == "" {
		// The control plane, and the Node of the one it replaces: a
		// restored etcd still holds that Node and its range until the
		// replacement is Ready, and without a range of its own the new
		// control plane's CNI never starts.
		nodes := 2
		for _, p := range v.c.WorkerPools {
			nodes += max(p.Max, 0)
		}
		if pod.Bits() > nodeMaskSize || 1<<(nodeMaskSize-pod.Bits()) < nodes {
			v.errorf("kubernetes.podCIDR", "use a larger range, for example "+DefaultPodCIDR,
				"%s holds fewer than %d node ranges of /%d (one per node at the pools' maximum size, and two for the control plane while it is replaced)", pod, nodes, nodeMaskSize)
		}
	}

	// Pairwise overlap of the VPC, pod and service ranges. The error is
	// reported on the range the files set last in the list order below.
	type named struct {
		path string
		p    netip.Prefix
	}
	var ranges []named
	if vpc, msg, _ := parseCIDR(v.c.Network.VPCCIDR); msg == "" {
		ranges = append(ranges, named{"network.vpcCIDR", vpc})
	}
	if podMsg == "" {
		ranges = append(ranges, named{"kubernetes.podCIDR", pod})
	}
	if svcMsg == "" {
		ranges = append(ranges, named{"kubernetes.serviceCIDR", svc})
	}
	for i := 0; i < len(ranges); i++ {
		for j := i + 1; j < len(ranges); j++ {
			a, b := ranges[i], ranges[j]
			if !a.p.Overlaps(b.p) {
				continue
			}
			// Report on the range the environment file set, if only one was:
			// that is the value the user most likely just changed.
			at := b
			if v.setWeight(a.path) > v.setWeight(b.path) {
				at = a
			}
			other := a
			if at == a {
				other = b
			}
			v.errorf(at.path, "choose ranges that do not overlap (defaults: VPC "+DefaultVPCCIDR+", pods "+DefaultPodCIDR+", services "+DefaultServiceCIDR+")",
				"%s overlaps %s (%s)", at.p, other.path, other.p)
		}
	}
}

func (v *validator) ingress() {
	in := v.c.Ingress
	for _, p := range []struct {
		path string
		port int
	}{{"ingress.httpNodePort", in.HTTPNodePort}, {"ingress.httpsNodePort", in.HTTPSNodePort}} {
		if p.port < minNodePort || p.port > maxNodePort {
			v.errorf(p.path, fmt.Sprintf("use a port between %d and %d (the Kubernetes NodePort range)", minNodePort, maxNodePort),
				"%d is outside the NodePort range %d-%d", p.port, minNodePort, maxNodePort)
		}
	}
	if in.HTTPNodePort == in.HTTPSNodePort {
		path := "ingress.httpsNodePort"
		if !v.isSet(path) {
			path = "ingress.httpNodePort"
		}
		v.errorf(path, fmt.Sprintf("use different ports, for example %d and %d", DefaultHTTPNodePort, DefaultHTTPSNodePort),
			"HTTP and HTTPS both use node port %d", in.HTTPNodePort)
	}

	switch addr, err := mail.ParseAddress(in.ACMEEmail); {
	case in.ACMEEmail == "":
		v.errorf("ingress.acmeEmail", "add ingress.acmeEmail: the contact address of the cluster's Let's Encrypt accounts", "is required")
	case err != nil || addr.Address != in.ACMEEmail || addr.Name != "":
		v.errorf("ingress.acmeEmail", "write a plain address such as ops@example.org", "%q is not an e-mail address", in.ACMEEmail)
	default:
		_, domain, _ := strings.Cut(addr.Address, "@")
		if checkDomain(strings.ToLower(domain)) != "" {
			v.errorf("ingress.acmeEmail", "write a plain address such as ops@example.org", "%q has no valid domain after the @", in.ACMEEmail)
		} else if isReservedExampleDomain(domain) && !v.c.Emulator {
			v.warnf("ingress.acmeEmail", "use a real address before applying to AWS",
				"Let's Encrypt refuses accounts at %s", domain)
		}
	}
}

func isReservedExampleDomain(domain string) bool {
	domain = strings.ToLower(domain)
	for _, d := range []string{"example.com", "example.org", "example.net"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

// instanceType checks one instance type and reports whether it is usable.
// A refused type's architecture is unknown or irrelevant (p6e-gb200 is a
// Grace, arm64, type that isArm reads as x86_64), so callers count only
// usable types towards the architecture checks.
func (v *validator) instanceType(path, t string) bool {
	// Before the shape: mac-m4.metal is a real type the shape does not take.
	if why := unsupportedInstanceType(t); why != "" {
		v.errorf(path, "use a general-purpose, compute, memory or storage type, for example t3.medium, m7i.large, c7g.large or r7g.large", "%s", why)
		return false
	}
	if !instanceTypePattern.MatchString(t) {
		v.errorf(path, "write an EC2 instance type as family.size, for example t3.medium or m7g.large",
			"%q is not an EC2 instance type", t)
		return false
	}
	// The node image does not boot there: Amazon Linux 2023 supports
	// Graviton2 and later, not the first Graviton's A1 instances.
	if family, _, _ := strings.Cut(t, "."); family == "a1" {
		v.errorf(path, "use a Graviton2 or later type, for example t4g.medium, m6g.large or m7g.large",
			"%s is a first-generation Graviton (A1) type, which Amazon Linux 2023, the nodes' image, does not run on", t)
		return false
	}
	return true
}

// usableInstanceType reports whether instanceType passes the checks of
// validator.instanceType, without reporting anything.
func usableInstanceType(t string) bool {
	family, _, _ := strings.Cut(t, ".")
	return unsupportedInstanceType(t) == "" && instanceTypePattern.MatchString(t) && family != "a1"
}

func (v *validator) volumeSize(path string, size int) {
	if size < minVolumeSize || size > maxVolumeSize {
		v.errorf(path, fmt.Sprintf("use %d to %d GiB", minVolumeSize, maxVolumeSize),
			"%d GiB is outside %d-%d GiB (the OS, container images and logs need at least %d)", size, minVolumeSize, maxVolumeSize, minVolumeSize)
	}
}

func (v *validator) controlPlane() {
	cp := v.c.ControlPlane
	if v.instanceType("controlPlane.instanceType", cp.InstanceType) && belowControlPlaneMinimum(cp.InstanceType) {
		// kubeadm init's preflight refuses fewer than 2 CPUs or 1700 MB.
		v.errorf("controlPlane.instanceType", "use at least 2 vCPUs and 2 GiB: of the nano to medium sizes only t3.small, t3a.small, t4g.small and the medium of t2, t3, t3a and t4g qualify; any large or bigger size does",
			"%s has fewer than the 2 vCPUs and 1700 MB of memory kubeadm requires of a control-plane node", cp.InstanceType)
	}
	v.volumeSize("controlPlane.volumeSize", cp.VolumeSize)
	v.backupInterval("controlPlane.backupInterval", cp.BackupInterval)
	if err := kubeadm.CheckEtcdQuotaGiB(cp.EtcdQuotaGiB); err != nil || cp.EtcdQuotaGiB == 0 {
		v.errorf("controlPlane.etcdQuotaGiB", fmt.Sprintf("use a whole number of GiB from %d (etcd's default) to %d", kubeadm.MinEtcdQuotaGiB, kubeadm.MaxEtcdQuotaGiB),
			"%d GiB is outside %d-%d GiB: below etcd's default the database fills sooner, and %d GiB is etcd's suggested maximum",
			cp.EtcdQuotaGiB, kubeadm.MinEtcdQuotaGiB, kubeadm.MaxEtcdQuotaGiB, kubeadm.MaxEtcdQuotaGiB)
	} else if want := controlPlaneVolumeFor(cp.EtcdQuotaGiB); cp.VolumeSize >= minVolumeSize && cp.VolumeSize < want {
		v.errorf("controlPlane.volumeSize", fmt.Sprintf("use at least %d GiB, or a lower controlPlane.etcdQuotaGiB", want),
			"%d GiB does not hold etcd's database at its %d GiB quota twice (a backup's snapshot, and a replacement's downloaded snapshot, sit beside it) and the node's own %d GiB",
			cp.VolumeSize, cp.EtcdQuotaGiB, controlPlaneOwnGiB)
	}
}

// controlPlaneOwnGiB is what the control plane's root volume holds besides
// etcd: the OS, the control plane's and Cilium's images (containerd keeps
// each compressed and unpacked), logs, and the 10 % the kubelet keeps free
// before it evicts (nodefs.available). With it, the smallest volume (20
// GiB) holds a 4 GiB quota.
const controlPlaneOwnGiB = 12

// controlPlaneVolumeFor is the smallest root volume, in GiB, of a control
// plane whose etcd has a quota of quotaGiB: the database and one copy of
// it (the backup writes a snapshot beside it before uploading it; a
// replacement downloads the snapshot and restores it beside the download)
// and the node's own needs.
func controlPlaneVolumeFor(quotaGiB int) int {
	return 2*quotaGiB + controlPlaneOwnGiB
}

// Backup interval bounds: a snapshot of a small etcd takes seconds, so five
// minutes leaves room; beyond a day the recovery point is too old to use.
const (
	minBackupInterval = 5 * time.Minute
	maxBackupInterval = 24 * time.Hour
)

func (v *validator) backupInterval(path, s string) {
	fix := "use whole minutes from 5m to 24h, for example 15m or 1h"
	d, err := time.ParseDuration(s)
	if err != nil {
		v.errorf(path, fix, "%q is not a duration", s)
		return
	}
	if d%time.Minute != 0 || d < minBackupInterval || d > maxBackupInterval {
		v.errorf(path, fix, "%s is not a whole number of minutes between %s and %s", d, minBackupInterval, maxBackupInterval)
	}
}

func (v *validator) workerPools() {
	c := v.c
	if len(c.WorkerPools) == 0 {
		v.errorf("workerPools", "add a pool, for example workerPools: {general: {instanceTypes: [t3.medium], min: 1, max: 3}}",
			"at least one worker pool is required")
		return
	}
	names := slices.Sorted(maps.Keys(c.WorkerPools))
	var ingress []string
	keptUp := false
	for _, name := range names {
		if p := c.WorkerPools[name]; p.RunsIngress() {
			ingress = append(ingress, name)
			keptUp = keptUp || p.Min >= 1
		}
	}
	switch {
	case len(ingress) == 0:
		v.errorf("workerPools", "set ingress: true on a pool without NoSchedule/NoExecute taints",
			"no pool runs the ingress controller, so the NLB target groups would stay empty")
	case !keptUp:
		// Traefik is a DaemonSet: Cluster Autoscaler takes a node that
		// runs only DaemonSets for unneeded, and scales up for none.
		v.errorf("workerPools."+ingress[0]+".min", "set min: 1 or more on a pool that runs ingress",
			"every pool that runs the ingress controller has min 0: Cluster Autoscaler removes nodes that run only DaemonSets (the ingress controller is one) and adds none for them, so the NLB would be left without a target and every HTTP(S) request would fail")
	}

	// controlPlane has reported an unusable type; it counts for no architecture.
	arch := map[bool][]string{}
	if t := c.ControlPlane.InstanceType; usableInstanceType(t) {
		arch[isArm(t)] = []string{"controlPlane.instanceType"}
	}
	for _, name := range names {
		p := c.WorkerPools[name]
		path := joinPath("workerPools", name)
		if len(name) > maxPoolName || !poolName.MatchString(name) {
			v.errorf(path, fmt.Sprintf("name pools with 1-%d lowercase letters, digits and hyphens, starting with a letter, for example general", maxPoolName),
				"pool name %q is not a lowercase DNS label starting with a letter, of at most %d characters", name, maxPoolName)
		} else if name == "controller" {
			// <cluster>-controller already names the control plane's launch template and ASG.
			v.errorf(path, "choose another pool name, for example general", "pool name %q is reserved for the control plane", name)
		}

		switch {
		case len(p.InstanceTypes) == 0:
			v.errorf(path+".instanceTypes", "list at least one type, for example [t3.medium]", "must not be empty")
		case len(p.InstanceTypes) > maxInstanceTypes:
			v.errorf(path+".instanceTypes", fmt.Sprintf("list at most %d types", maxInstanceTypes), "lists %d types", len(p.InstanceTypes))
		}
		seen := map[string]bool{}
		poolArch := map[bool]bool{}
		for i, t := range p.InstanceTypes {
			tp := fmt.Sprintf("%s.instanceTypes[%d]", path, i)
			usable := v.instanceType(tp, t)
			if seen[t] {
				v.errorf(tp, "remove the duplicate", "%s is listed twice", t)
			}
			seen[t] = true
			if usable {
				poolArch[isArm(t)] = true
				arch[isArm(t)] = append(arch[isArm(t)], tp)
			}
		}
		if len(poolArch) > 1 {
			v.errorf(path+".instanceTypes", "use only arm64 (Graviton, such as m7g) or only x86_64 types in one pool",
				"mixes arm64 and x86_64 instance types; one launch template has one AMI")
		}

		if !v.isSet(path + ".max") {
			v.errorf(path+".max", "add max: the most nodes the autoscaler may run in this pool", "is required")
		} else if p.Max < 1 || p.Max > maxPoolSize {
			v.errorf(path+".max", fmt.Sprintf("use 1 to %d", maxPoolSize), "%d is out of range 1-%d", p.Max, maxPoolSize)
		}
		if p.Min < 0 {
			v.errorf(path+".min", "use 0 or more", "%d is negative", p.Min)
		}
		if p.Min > p.Desired && p.Min >= 0 {
			v.errorf(path+".desired", fmt.Sprintf("set desired to at least min (%d)", p.Min), "%d is less than min (%d)", p.Desired, p.Min)
		}
		if p.Desired > p.Max && v.isSet(path+".max") && p.Max >= 1 {
			field := path + ".max"
			if v.isSet(path + ".desired") {
				field = path + ".desired"
			}
			v.errorf(field, fmt.Sprintf("keep min ≤ desired ≤ max (raise max to at least %d or lower desired)", p.Desired),
				"desired (%d) is greater than max (%d)", p.Desired, p.Max)
		}
		v.volumeSize(path+".volumeSize", p.VolumeSize)
		v.capacity(path, p)

		labelKeys := make([]string, 0, len(p.Labels))
		for k := range p.Labels {
			labelKeys = append(labelKeys, k)
		}
		sort.Strings(labelKeys)
		for _, k := range labelKeys {
			lp := joinPath(path+".labels", k)
			if msg := checkLabelKey(k); msg != "" {
				v.errorf(lp, "write a label key such as team or example.com/team", "%s", msg)
			} else if msg := checkReservedLabel(k); msg != "" {
				v.errorf(lp, "use your own prefix, for example example.com/role, or node.kubernetes.io/", "%s", msg)
			} else {
				v.templatedKey(lp, k)
			}
			if msg := checkLabelValue(p.Labels[k]); msg != "" {
				v.errorf(lp, "use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", "%s", msg)
			}
		}
		if p.RunsIngress() && p.HasHardTaint() {
			v.errorf(path+".ingress", "set ingress: false, or remove the NoSchedule/NoExecute taints",
				"the ingress controller does not tolerate taints, so the pool's instances would sit in the NLB target groups unhealthy")
		}
		taintKeys := map[string]int{}
		for i, t := range p.Taints {
			tp := fmt.Sprintf("%s.taints[%d]", path, i)
			key, msg := checkTaint(t)
			if msg != "" {
				v.errorf(tp, "write key=value:Effect or key:Effect, Effect one of NoSchedule, PreferNoSchedule, NoExecute (for example dedicated=gpu:NoSchedule)", "%s", msg)
				continue
			}
			v.templatedKey(tp, key)
			if key == EFSNotReadyTaint {
				v.errorf(tp, "remove the taint",
					"the EFS CSI node plugin lifts %s by patching its Node, which it may not do here (docs/SECURITY.md), so the pool would never take a pod", key)
			}
			// Cluster Autoscaler's node template has one tag per taint key,
			// so a key may appear once whatever its effects.
			if j, dup := taintKeys[key]; dup {
				v.errorf(tp, "keep one taint per key (NoExecute also keeps new pods off, as NoSchedule does)",
					"repeats the key of %s.taints[%d]; the pool's Cluster Autoscaler template holds one taint per key", path, j)
			}
			taintKeys[key] = i
		}
		if n := len(c.Tags) + len(p.Labels) + len(p.Taints); n > maxPoolTagsLabelsTaints {
			v.errorf(path, fmt.Sprintf("keep tags + labels + taints at most %d for this pool (remove %d)", maxPoolTagsLabelsTaints, n-maxPoolTagsLabelsTaints),
				"%d tags, %d labels and %d taints are %d tags on the pool's Auto Scaling group with kforge's own, and AWS allows 50",
				len(c.Tags), len(p.Labels), len(p.Taints), n+50-maxPoolTagsLabelsTaints)
		}
	}

	// A pinned AMI has one architecture, so every node must share it.
	if c.AMIID != "" && len(arch) > 1 {
		v.errorf("amiID", "use instance types of one architecture everywhere, or leave amiID out (then the AMI is looked up per architecture)",
			"one AMI cannot boot both arm64 (%s) and x86_64 (%s) instances", arch[true][0], arch[false][0])
	}
}

// nodeAddresses checks that the zones' subnets hold every node the pools may
// grow to. Each zone has one node subnet of the VPC's prefix + 4
// (terraform/modules/network); AWS reserves 5 addresses of a subnet, and 10
// more are kept per zone for what shares it: the 8 free addresses an
// internet-facing NLB needs in its subnets to be created or changed, the
// EFS mount target and the NAT gateway. The nodes: the control plane, each
// pool at its maximum, and one more per pool while a roll surges it.
func (v *validator) nodeAddresses(vpcBits int) {
	c := v.c
	perZone := 1<<(32-vpcBits-subnetNewBits) - awsReservedPerSubnet - keptPerZone
	nodes := 1
	for _, p := range c.WorkerPools {
		nodes += max(p.Max, 0) + 1
	}
	if fit := c.Network.AZCount * perZone; fit < nodes {
		v.errorf("network.vpcCIDR", "use a larger range (for example /20) or more zones",
			"/%d gives each of the %d zones a /%d subnet with room for %d nodes, %d in all; the pools may grow to %d (the control plane, each pool's max, and one more per pool while it rolls)",
			vpcBits, c.Network.AZCount, vpcBits+subnetNewBits, max(perZone, 0), max(fit, 0), nodes)
	}
}

// templatedKey refuses a label or taint key that would not fit behind Cluster
// Autoscaler's node-template tag prefix on the pool's Auto Scaling group.
func (v *validator) templatedKey(path, key string) {
	if len(key) > maxTemplatedKey {
		v.errorf(path, fmt.Sprintf("use a key of at most %d characters", maxTemplatedKey),
			"the key is %d characters; as a Cluster Autoscaler template tag on the pool's Auto Scaling group it would exceed AWS's %d-character tag keys", len(key), maxTagKey)
	}
}

// capacity checks a pool's capacity type and its on-demand base.
func (v *validator) capacity(path string, p WorkerPool) {
	switch p.Capacity {
	case CapacityOnDemand, CapacitySpot:
	default:
		v.errorf(path+".capacity", "use capacity: spot or capacity: on-demand"+didYouMean(p.Capacity, []string{CapacitySpot, CapacityOnDemand}),
			"%q is not a capacity type", p.Capacity)
	}
	switch {
	case p.OnDemandBase < 0:
		v.errorf(path+".onDemandBase", "use 0 or more", "%d is negative", p.OnDemandBase)
	case p.OnDemandBase > 0 && p.Capacity == CapacityOnDemand:
		v.errorf(path+".onDemandBase", "set capacity: spot, or remove onDemandBase (every instance of an on-demand pool is on-demand)",
			"applies only to a spot pool")
	case p.OnDemandBase > p.Max && p.Max >= 1:
		v.errorf(path+".onDemandBase", fmt.Sprintf("use at most max (%d), or capacity: on-demand if the pool should not run Spot", p.Max),
			"%d is greater than max (%d)", p.OnDemandBase, p.Max)
	}
	if _, ok := p.Labels[CapacityTypeLabel]; ok {
		v.errorf(joinPath(path+".labels", CapacityTypeLabel), "remove the label; set "+path+".capacity instead",
			"kforge sets %s on every worker from the pool's capacity", CapacityTypeLabel)
	}
	// AWS's Spot guidance: several types of the same size, so one reclaimed
	// capacity pool does not empty the whole Auto Scaling group.
	if p.Capacity == CapacitySpot && len(p.InstanceTypes) == 1 {
		v.warnf(path+".instanceTypes", "list two or more interchangeable types of one shape (Cluster Autoscaler sizes the pool by its first type), for example [t4g.medium, c6g.large, c7g.large]",
			"a spot pool with one instance type (%s) has one Spot capacity pool per AZ to draw from and is interrupted more often", p.InstanceTypes[0])
	}
}

// checkLabelKey validates a Kubernetes qualified name: [prefix/]name.
func checkLabelKey(k string) string {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix {
		if prefix == "" || len(prefix) > maxLabelKeyPrefix || checkDomain(prefix) != "" && !dnsLabel.MatchString(prefix) {
			return fmt.Sprintf("label key %q has an invalid prefix (a lowercase DNS subdomain)", k)
		}
	}
	if name == "" || len(name) > maxLabelNamePart || !labelName.MatchString(name) {
		return fmt.Sprintf("label key %q: the name part must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", k)
	}
	return ""
}

// checkReservedLabel refuses keys the kubelet may not set on its own node.
func checkReservedLabel(k string) string {
	prefix, _, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		return ""
	}
	if prefix == "node.kubernetes.io" || prefix == "kubelet.kubernetes.io" || strings.HasSuffix(prefix, ".node.kubernetes.io") ||
		strings.HasSuffix(prefix, ".kubelet.kubernetes.io") {
		return ""
	}
	for _, reserved := range []string{"kubernetes.io", "k8s.io"} {
		if prefix == reserved || strings.HasSuffix(prefix, "."+reserved) {
			return fmt.Sprintf("label key %q uses the reserved %s prefix, which the kubelet may not set on its node", k, reserved)
		}
	}
	return ""
}

func checkLabelValue(val string) string {
	if val == "" {
		return ""
	}
	if len(val) > maxLabelValue || !labelName.MatchString(val) {
		return fmt.Sprintf("label value %q is not a valid Kubernetes label value", val)
	}
	return ""
}

// checkTaint validates key[=value]:Effect and returns the key.
func checkTaint(t string) (string, string) {
	i := strings.LastIndex(t, ":")
	if i < 0 {
		return "", fmt.Sprintf("taint %q has no :Effect", t)
	}
	kv, effect := t[:i], t[i+1:]
	if !taintEffect[effect] {
		return "", fmt.Sprintf("taint %q has effect %q; effects are NoSchedule, PreferNoSchedule and NoExecute", t, effect)
	}
	key, val, _ := strings.Cut(kv, "=")
	if msg := checkLabelKey(key); msg != "" || key == "" {
		return "", fmt.Sprintf("taint %q has an invalid key %q", t, key)
	}
	if msg := checkLabelValue(val); msg != "" {
		return "", fmt.Sprintf("taint %q has an invalid value %q", t, val)
	}
	return key, ""
}

func (v *validator) tags() {
	tags := v.c.Tags
	if len(tags) > maxUserTags {
		v.errorf("tags", fmt.Sprintf("keep at most %d tags", maxUserTags),
			"%d tags leave no room for kforge's own (AWS allows 50 per resource)", len(tags))
	}
	keys := slices.Sorted(maps.Keys(tags))
	for _, k := range keys {
		path := joinPath("tags", k)
		lower := strings.ToLower(k)
		switch {
		case k == "" || utf8.RuneCountInString(k) > maxTagKey:
			v.errorf(path, fmt.Sprintf("use 1-%d characters", maxTagKey), "tag key %q must be 1-%d characters", k, maxTagKey)
		case strings.HasPrefix(lower, "aws:"):
			v.errorf(path, "remove the aws: prefix", "tag key %q uses the aws: prefix, which AWS reserves", k)
		case strings.HasPrefix(lower, "kforge.io/"):
			v.errorf(path, "use another prefix", "tag key %q uses the kforge.io/ prefix, which kforge sets itself", k)
		case !tagChars.MatchString(k):
			v.errorf(path, "use letters, digits, spaces and _ . : / = + - @", "tag key %q contains characters AWS does not allow", k)
		}
		val := tags[k]
		switch n := utf8.RuneCountInString(val); {
		case n > maxTagValue:
			v.errorf(path, fmt.Sprintf("shorten the value to %d characters", maxTagValue), "tag value is %d characters; AWS allows %d", n, maxTagValue)
		case !tagChars.MatchString(val):
			v.errorf(path, "use letters, digits, spaces and _ . : / = + - @", "tag value %q contains characters AWS does not allow", val)
		}
	}
}

// derivedNames proves every AWS name built from the configuration fits.
func (v *validator) derivedNames() {
	if v.c.Name == "" || !clusterName.MatchString(v.c.Name) || !isKnownRegion(v.c.Region) {
		return // already reported; derived names would only repeat it
	}
	for _, d := range v.c.DerivedNames() {
		if len(d.Name) > d.Limit {
			v.errorf("name", fmt.Sprintf("shorten the cluster name by %d characters", len(d.Name)-d.Limit),
				"the %s name %q would be %d characters; AWS allows %d", d.What, d.Name, len(d.Name), d.Limit)
		}
		if d.Limit == maxBucketName {
			if msg := checkBucketName(d.Name); msg != "" {
				v.errorf("name", "change the cluster name", "the %s name would be invalid: %s", d.What, msg)
			}
		}
	}
}

// didYouMean suggests the closest of candidates, or "".
func didYouMean(got string, candidates []string) string {
	if best := closest(got, candidates); best != "" {
		return " (did you mean " + best + "?)"
	}
	return ""
}

// suggestName turns an invalid cluster name into a valid-looking one.
func suggestName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "k" + s
	}
	if len(s) > maxClusterName {
		s = strings.TrimRight(s[:maxClusterName], "-")
	}
	return s
}

func lastSegment(path string) string {
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[i+1:]
	}
	return path
}

func fileEnvName(file string) string {
	base := file
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	if i := strings.LastIndex(base, "."); i >= 0 {
		base = base[:i]
	}
	return base
}
