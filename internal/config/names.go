package config

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Length limits of AWS names derived from the cluster name.
const (
	maxClusterName        = 20
	minClusterName        = 3
	maxLBName             = 32 // load balancers and target groups
	maxBucketName         = 63
	maxDomain             = 240 // as the root module's domain validation
	maxIAMRoleName        = 64
	maxASGName            = 255
	maxIAMPolicyName      = 128
	maxLaunchTemplateName = 128
	placeholderAcctID     = "123456789012" // account ids are always 12 digits
)

// DerivedName is an AWS resource name the Terraform modules build from the
// configuration, with the limit AWS puts on it.
type DerivedName struct {
	What  string
	Name  string
	Limit int
}

// DerivedNames returns the longest names the modules derive from this
// configuration (account id placeholders are the real length), so the
// validator can prove they fit before Terraform runs.
func (c *Cluster) DerivedNames() []DerivedName {
	n := c.Name
	// Keep in step with terraform/modules: ingress/nlb.tf, buckets/bucket.tf,
	// iam/roles.tf, iam/policies.tf, node-group/launch-template.tf and asg.tf.
	names := []DerivedName{
		{"network load balancer", n + "-ingress", maxLBName},
		{"HTTP target group", n + "-http", maxLBName},
		{"HTTPS target group", n + "-https", maxLBName},
		{"certs bucket", fmt.Sprintf("%s-certs-%s-%s", n, placeholderAcctID, c.Region), maxBucketName},
		{"control-plane IAM role", n + "-controller", maxIAMRoleName},
		{"worker IAM role", n + "-worker", maxIAMRoleName},
		{"Cluster Autoscaler IAM policy", n + "-cluster-autoscaler", maxIAMPolicyName},
		{"control-plane launch template", n + "-controller", maxLaunchTemplateName},
	}
	if c.State.Bucket == "" {
		names = append(names, DerivedName{"default state bucket",
			fmt.Sprintf("kforge-state-%s-%s", placeholderAcctID, c.State.Region), maxBucketName})
	}
	for pool := range c.WorkerPools {
		names = append(names,
			DerivedName{"worker launch template", n + "-" + pool, maxLaunchTemplateName},
			DerivedName{"worker Auto Scaling Group", n + "-" + pool, maxASGName})
	}
	sort.Slice(names, func(i, j int) bool {
		return names[i].What < names[j].What || names[i].What == names[j].What && names[i].Name < names[j].Name
	})
	return names
}

var (
	tldPattern    = regexp.MustCompile(`^[a-z]{2,63}$`)
	poolName      = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	dnsLabel      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	clusterName   = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	bucketName    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// Route 53 ids start with Z; emulators (moto) hand out other upper-case
	// ids, so the rule is the same as the root module's validation.
	zoneIDPattern = regexp.MustCompile(`^[A-Z0-9]{1,32}$`)
	// An Availability Zone ID: the region's short form and the zone's
	// number (use1-az3, apne1-az4, usgw1-az1). Local and Wavelength Zones
	// are never cluster zones, so their longer IDs are not taken.
	azIDPattern = regexp.MustCompile(`^[a-z]{3,6}[1-9][0-9]?-az[1-9][0-9]?$`)
	amiPattern  = regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)
	// family.size: t3.medium, m7g.large, c6in.2xlarge, m7i-flex.large, u-6tb1.metal
	instanceTypePattern = regexp.MustCompile(`^([a-z]+[0-9]+[a-z0-9]*(-[a-z0-9]+)?|u-[0-9]+tb[0-9]+)\.(nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal(-[0-9]+xl)?)$`)
)

// reservedNamePrefixes are cluster-name prefixes that an AWS service
// refuses at the start of a name kforge derives from the cluster name: the
// security groups (<name>-workers), the NLB (<name>-ingress) and the buckets
// (<name>-certs-...). The modules refuse the same prefixes.
var reservedNamePrefixes = []struct{ prefix, who string }{
	{"sg-", "EC2 refuses for security group names"},
	{"internal-", "Elastic Load Balancing refuses for load balancer names"},
	{"sthree-", "S3 reserves for bucket names"},
	{"amzn-s3-demo-", "S3 reserves for bucket names"},
}

// knownRegions are the AWS commercial regions (checked 2026-11-25).
var knownRegions = []string{
	"af-south-1",
	"ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
	"ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
	"ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
	"eu-west-1", "eu-west-2", "eu-west-3",
	"il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1",
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"us-gov-east-1", "us-gov-west-1",
}

// KnownRegions returns the regions the validator accepts.
func KnownRegions() []string {
	return append([]string(nil), knownRegions...)
}

func isKnownRegion(r string) bool {
	for _, k := range knownRegions {
		if k == r {
			return true
		}
	}
	return false
}

// checkBucketName returns "" for a valid S3 general purpose bucket name.
func checkBucketName(name string) string {
	switch {
	case len(name) < 3 || len(name) > maxBucketName:
		return fmt.Sprintf("bucket names are 3-63 characters, %q has %d", name, len(name))
	case !bucketName.MatchString(name):
		return fmt.Sprintf("%q must use lowercase letters, digits, dots and hyphens, and start and end with a letter or digit", name)
	case strings.Contains(name, ".."):
		return fmt.Sprintf("%q must not contain two dots in a row", name)
	case net.ParseIP(name) != nil:
		return fmt.Sprintf("%q must not look like an IP address", name)
	case strings.HasPrefix(name, "xn--") || strings.HasPrefix(name, "sthree-") || strings.HasPrefix(name, "amzn-s3-demo-"):
		return fmt.Sprintf("%q starts with a prefix S3 reserves", name)
	case strings.HasSuffix(name, "-s3alias") || strings.HasSuffix(name, "--ol-s3") || strings.HasSuffix(name, ".mrap") || strings.HasSuffix(name, "--x-s3"):
		return fmt.Sprintf("%q ends with a suffix S3 reserves", name)
	}
	return ""
}

// checkDomain returns "" for a valid DNS domain with room for api.<domain>.
func checkDomain(domain string) string {
	if domain != strings.ToLower(domain) {
		return fmt.Sprintf("%q must be lowercase", domain)
	}
	if strings.HasSuffix(domain, ".") {
		return fmt.Sprintf("%q must not end with a dot", domain)
	}
	// api.<domain>, *.<domain> and ACME challenge names must stay within the
	// 253-character DNS limit; the root module allows 240.
	if len(domain) > maxDomain {
		return fmt.Sprintf("%q is %d characters; at most %d leave room for api. and _acme-challenge. in front", domain, len(domain), maxDomain)
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return fmt.Sprintf("%q needs at least two labels, such as example.com", domain)
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || !dnsLabel.MatchString(l) {
			return fmt.Sprintf("label %q of %q must be 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen", l, domain)
		}
	}
	if tld := labels[len(labels)-1]; !tldPattern.MatchString(tld) {
		return fmt.Sprintf("%q must end in a top-level domain of 2-63 letters", domain)
	}
	return ""
}

// isArm reports whether an instance type is a Graviton (arm64) type: the
// letters after the family's generation digit contain a g (m7g, c6gn, t4g).
func isArm(instanceType string) bool {
	family, _, _ := strings.Cut(instanceType, ".")
	if family == "a1" {
		return true
	}
	i := strings.IndexAny(family, "0123456789")
	if i < 0 {
		return false
	}
	rest := strings.TrimLeft(family[i:], "0123456789")
	attrs, _, _ := strings.Cut(rest, "-")
	return strings.Contains(attrs, "g")
}

// smallControlPlaneTypes are the only nano, micro, small and medium types
// with the 2 vCPUs and 1700 MB that kubeadm init's preflight requires of a
// control-plane node (a 2 GiB type leaves the kernel about 1.9 GiB).
// Every other type of these sizes has one vCPU (t2.small, m1.small, the
// mediums of m3 and of the Graviton and AMD families: m7g, c7a, r8a...) or
// less memory (nano, micro, c1.medium's 1.7 GiB), per Cluster Autoscaler's
// static table of EC2 types. Every larger size has 2 vCPUs and 3.75 GiB or
// more. The root module's controller_instance_type validation lists the
// same types.
var smallControlPlaneTypes = []string{
	"t2.medium", "t3.small", "t3.medium", "t3a.small", "t3a.medium", "t4g.small", "t4g.medium",
}

// belowControlPlaneMinimum reports the instance types with fewer than the 2
// vCPUs or 1700 MB that kubeadm init's preflight requires: every nano,
// micro, small or medium type but smallControlPlaneTypes. A new family's
// medium is refused too, as most mediums have one vCPU.
func belowControlPlaneMinimum(instanceType string) bool {
	_, size, _ := strings.Cut(instanceType, ".")
	switch size {
	case "nano", "micro", "small", "medium":
		return !slices.Contains(smallControlPlaneTypes, instanceType)
	}
	return false
}

// acceleratedFamily matches the GPU, accelerator and FPGA families (g4dn,
// g5g, gr6, p4d, p6e-gb200, inf2, trn1, dl1, dl2q, vt1, f1, f2): no other
// family starts with g or p, inf, trn, dl, vt or f and a digit. The root
// module's instance-type validations use the same pattern.
var acceleratedFamily = regexp.MustCompile(`^([gp][a-z]*[0-9]|inf[0-9]|trn[0-9]|dl[0-9]|vt[0-9]|f[0-9])`)

// unsupportedInstanceType says why kforge's nodes cannot use an instance
// type, or returns "". GPU and accelerator types boot, but the standard
// AL2023 image has no NVIDIA or Neuron driver and kforge ships no device
// plugin, while Cluster Autoscaler's template advertises the accelerator
// (nvidia.com/gpu, from DescribeInstanceTypes): a pod that requests one
// would scale up a costly pool it can never run on. Mac types (mac1,
// mac2-m2, mac-m4...) run only on Dedicated Hosts, with macOS.
func unsupportedInstanceType(instanceType string) string {
	switch {
	case strings.HasPrefix(instanceType, "mac"):
		return fmt.Sprintf("%s is a Mac type, which runs macOS on a Dedicated Host only, not Amazon Linux 2023 in an Auto Scaling group", instanceType)
	case acceleratedFamily.MatchString(instanceType):
		family, _, _ := strings.Cut(instanceType, ".")
		return fmt.Sprintf("%s is a GPU or accelerator (%s) type: kforge's nodes run the standard AL2023 image without accelerator drivers or a device plugin, so no pod could use it, yet Cluster Autoscaler would scale the pool up for pods that request it", instanceType, family)
	}
	return ""
}
