package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// validDoc is a complete, valid configuration; each bad case edits one part of it.
const validDoc = `name: demo
environment: test
region: eu-west-1
state:
  bucket: demo-state-bucket
network:
  azCount: 2
  vpcCIDR: 10.0.0.0/16
  adminCIDRs: [198.51.100.0/24]
dns:
  domain: dev.example.org
  registrar: none
kubernetes:
  version: 1.36.6
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
ingress:
  httpNodePort: 30080
  httpsNodePort: 30443
  acmeEmail: ops@kforge.dev
controlPlane:
  instanceType: t3.medium
  volumeSize: 30
workerPools:
  general:
    instanceTypes: [t3.medium]
    min: 1
    desired: 1
    max: 3
    labels:
      team: platform
    taints: ["dedicated=web:PreferNoSchedule"]
tags:
  owner: platform
`

// loadString loads YAML from memory as test.yaml (plus optional other files).
func loadString(t testing.TB, doc string, files ...string) (*Cluster, error) {
	t.Helper()
	fs := map[string]string{"test.yaml": doc}
	for i := 0; i+1 < len(files); i += 2 {
		fs[files[i]] = files[i+1]
	}
	return loader{readFile: memFS(fs)}.load("test.yaml")
}

func TestValidDocLoads(t *testing.T) {
	c, err := loadString(t, validDoc)
	if err != nil {
		t.Fatalf("valid document rejected: %v", err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("unexpected warnings: %v", c.Warnings)
	}
	if c.ControlPlane.EtcdQuotaGiB != 2 || c.TFVars().EtcdQuotaGiB != 2 {
		t.Errorf("etcd quota default %d GiB (rendered %d), want etcd's own 2", c.ControlPlane.EtcdQuotaGiB, c.TFVars().EtcdQuotaGiB)
	}
	if c.ControlPlane.BackupInterval != "15m" || c.BackupIntervalMinutes() != 15 || c.TFVars().BackupIntervalMinutes != 15 {
		t.Errorf("backup interval default %q (%d minutes), want 15m rendered as 15", c.ControlPlane.BackupInterval, c.BackupIntervalMinutes())
	}
}

func TestBackupIntervalRendered(t *testing.T) {
	c, err := loadString(t, strings.Replace(validDoc, "volumeSize: 30\n", "volumeSize: 30\n  backupInterval: 1h30m\n", 1))
	if err != nil {
		t.Fatalf("valid backup interval rejected: %v", err)
	}
	if got := c.TFVars().BackupIntervalMinutes; got != 90 {
		t.Errorf("backup_interval_minutes = %v, want 90", got)
	}
}

// Zone IDs of several regions' forms, GovCloud's among them, are taken
// and rendered as given; an absent list renders as [].
func TestExcludedZoneIDsRendered(t *testing.T) {
	ids := []string{"use1-az3", "apne1-az4", "usgw1-az1", "apse2-az3", "euc1-az2"}
	c, err := loadString(t, strings.Replace(validDoc, "vpcCIDR: 10.0.0.0/16\n", "vpcCIDR: 10.0.0.0/16\n  excludeZoneIDs: ["+strings.Join(ids, ", ")+"]\n", 1))
	if err != nil {
		t.Fatalf("valid zone IDs rejected: %v", err)
	}
	if got := c.TFVars().ExcludeZoneIDs; !slices.Equal(got, ids) {
		t.Errorf("exclude_zone_ids = %v, want %v", got, ids)
	}
	c, err = loadString(t, validDoc)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TFVars().ExcludeZoneIDs; got == nil || len(got) != 0 {
		t.Errorf("exclude_zone_ids without the key = %#v, want an empty list", got)
	}
}

func TestBadInputs(t *testing.T) {
	tests := []struct {
		name string
		old  string // text of validDoc to replace (first occurrence)
		new  string
		// field is the path the error must name; line is the expected line,
		// 0 meaning "the line where new starts".
		field string
		line  int
		msg   string // a fragment the message must contain
	}{
		{"name missing", "name: demo\n", "", "name", 1, "required"},
		{"name too short", "name: demo", "name: ab", "name", 0, "3-20"},
		{"name too long", "name: demo", "name: a-very-long-cluster-name", "name", 0, "3-20"},
		{"name uppercase", "name: demo", "name: Demo", "name", 0, "lowercase"},
		{"name starts with digit", "name: demo", "name: 1demo", "name", 0, "DNS label"},
		{"name double hyphen", "name: demo", "name: de--mo", "name", 0, "DNS label"},
		{"environment mismatch", "environment: test", "environment: prod", "environment", 0, "file name"},
		{"region format", "region: eu-west-1", "region: europe", "region", 0, "not an AWS region"},
		{"region unknown", "region: eu-west-1", "region: eu-west-9", "region", 0, "not a known"},
		{"state bucket uppercase", "bucket: demo-state-bucket", "bucket: Demo_State", "state.bucket", 0, "lowercase"},
		{"state bucket ip", "bucket: demo-state-bucket", "bucket: 192.168.1.10", "state.bucket", 0, "IP address"},
		{"az count low", "azCount: 2", "azCount: 0", "network.azCount", 0, "out of range"},
		{"az count high", "azCount: 2", "azCount: 7", "network.azCount", 0, "out of range"},
		{"prod az count", "environment: test\n", "", "network.azCount", 7, "production"},
		{"vpc cidr invalid", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.300/16", "network.vpcCIDR", 0, "not a CIDR"},
		{"vpc cidr host bits", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.1.0/16", "network.vpcCIDR", 0, "host bits"},
		{"vpc cidr too large", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.0/8", "network.vpcCIDR", 0, "outside /16-/24"},
		{"vpc cidr too small", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.0/26", "network.vpcCIDR", 0, "outside /16-/24"},
		{"vpc cidr too small for the pools", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.0/24", "network.vpcCIDR", 0, "room for 1 nodes, 2 in all; the pools may grow to 5"},
		{"admin cidr invalid", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/33]", "network.adminCIDRs[0]", 0, "not a CIDR"},
		{"admin cidr ipv6", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [\"2001:db8::/32\"]", "network.adminCIDRs[0]", 0, "IPv4"},
		{"egress cidr host bits", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.1.0/16, ports: \"5432\"}]", "network.workerEgress[0].cidr", 10, "host bits"},
		{"egress protocol", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, protocol: icmp, ports: \"8\"}]", "network.workerEgress[0].protocol", 10, "neither tcp nor udp"},
		{"egress port range backwards", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, ports: 9094-9092}]", "network.workerEgress[0].ports", 10, "not a port or a range"},
		{"egress port with a sign", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, ports: \"+80\"}]", "network.workerEgress[0].ports", 10, "not a port or a range"},
		{"egress port zero", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, ports: \"0\"}]", "network.workerEgress[0].ports", 10, "not a port or a range"},
		{"egress description", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, ports: \"5432\", description: \"db|primary\"}]", "network.workerEgress[0].description", 10, "EC2 refuses"},
		{"egress twice", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, ports: \"5432\"}, {cidr: 10.0.0.0/16, protocol: tcp, ports: 5432}]", "network.workerEgress[1]", 10, "already listed"},
		{"egress kforge makes", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, ports: \"2049\"}]", "network.workerEgress[0]", 10, "NFS within the VPC"},
		{"pod overlaps vpc", "podCIDR: 10.244.0.0/16", "podCIDR: 10.0.0.0/16", "kubernetes.podCIDR", 0, "overlaps network.vpcCIDR"},
		{"service overlaps pod", "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.244.0.0/16", "kubernetes.serviceCIDR", 0, "overlaps kubernetes.podCIDR"},
		{"service cidr too big", "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.64.0.0/10", "kubernetes.serviceCIDR", 0, "outside /12-/24"},
		{"pod cidr too small for pools", "podCIDR: 10.244.0.0/16", "podCIDR: 10.244.0.0/23", "kubernetes.podCIDR", 0, "fewer than"},
		{"domain invalid label", "domain: dev.example.org", "domain: dev_1.example.org", "dns.domain", 0, "label"},
		{"domain single label", "domain: dev.example.org", "domain: localhost", "dns.domain", 0, "two labels"},
		{"domain too long", "domain: dev.example.org", "domain: " + strings.Repeat("a.", 119) + "org", "dns.domain", 0, "at most 240"},
		{"domain numeric tld", "domain: dev.example.org", "domain: dev.example.123", "dns.domain", 0, "top-level domain"},
		{"pool name starts with digit", "  general:", "  1st:", "workerPools.1st", 0, "starting with a letter"},
		{"registrar unknown", "registrar: none", "registrar: godaddy", "dns.registrar", 0, "not a supported registrar"},
		{"route53 without parent", "registrar: none", "registrar: route53", "dns.parentZoneID", 10, "required"},
		{"zone id invalid", "registrar: none", "registrar: none\n  zoneID: abc", "dns.zoneID", 13, "hosted zone id"},
		{"capacity unknown", "    max: 3\n", "    max: 3\n    capacity: Spot\n", "workerPools.general.capacity", 30, "not a capacity type"},
		{"on-demand base on an on-demand pool", "    max: 3\n", "    max: 3\n    onDemandBase: 1\n", "workerPools.general.onDemandBase", 30, "only to a spot pool"},
		{"on-demand base above max", "    max: 3\n", "    max: 3\n    capacity: spot\n    onDemandBase: 4\n", "workerPools.general.onDemandBase", 31, "greater than max"},
		{"on-demand base negative", "    max: 3\n", "    max: 3\n    capacity: spot\n    onDemandBase: -1\n", "workerPools.general.onDemandBase", 31, "negative"},
		{"tainted pool with ingress", "PreferNoSchedule\"]\n", "NoSchedule\"]\n    ingress: true\n", "workerPools.general.ingress", 33, "does not tolerate taints"},
		{"no pool runs ingress", "    max: 3\n", "    max: 3\n    ingress: false\n", "workerPools", 24, "no pool runs the ingress controller"},
		{"capacity label set by hand", "      team: platform", "      node.kubernetes.io/capacity-type: spot", `workerPools.general.labels["node.kubernetes.io/capacity-type"]`, 0, "from the pool's capacity"},
		{"kubernetes minor unsupported", "version: 1.36.6", "version: 1.30.2", "kubernetes.version", 0, "not a supported minor"},
		{"kubernetes patch unknown", "version: 1.36.6", "version: 1.36.60", "kubernetes.version", 0, "newer than"},
		{"kubernetes version shape", "version: 1.36.6", "version: \"1.36\"", "kubernetes.version", 0, "MAJOR.MINOR.PATCH"},
		{"node port low", "httpNodePort: 30080", "httpNodePort: 8080", "ingress.httpNodePort", 0, "NodePort range"},
		{"node port high", "httpsNodePort: 30443", "httpsNodePort: 40443", "ingress.httpsNodePort", 0, "NodePort range"},
		{"node ports equal", "httpsNodePort: 30443", "httpsNodePort: 30080", "ingress.httpsNodePort", 0, "both use"},
		{"node port quoted", "httpNodePort: 30080", "httpNodePort: \"30080\"", "ingress.httpNodePort", 0, "whole number"},
		{"acme email invalid", "acmeEmail: ops@kforge.dev", "acmeEmail: ops-at-kforge", "ingress.acmeEmail", 0, "not an e-mail"},
		{"acme email missing", "  acmeEmail: ops@kforge.dev\n", "", "ingress.acmeEmail", 17, "required"},
		{"controller type shape", "instanceType: t3.medium", "instanceType: t3-medium", "controlPlane.instanceType", 0, "not an EC2 instance type"},
		{"controller type size", "instanceType: t3.medium", "instanceType: m7g.huge", "controlPlane.instanceType", 0, "not an EC2 instance type"},
		{"controller volume small", "volumeSize: 30", "volumeSize: 10", "controlPlane.volumeSize", 0, "outside 20-16384"},
		{"etcd quota zero", "volumeSize: 30\n", "volumeSize: 30\n  etcdQuotaGiB: 0\n", "controlPlane.etcdQuotaGiB", 24, "0 GiB is outside 2-8 GiB"},
		{"controller volume below two etcd quotas", "volumeSize: 30\n", "volumeSize: 27\n  etcdQuotaGiB: 8\n", "controlPlane.volumeSize", 23, "27 GiB does not hold etcd's database at its 8 GiB quota twice"},
		{"backup interval not a duration", "volumeSize: 30\n", "volumeSize: 30\n  backupInterval: often\n", "controlPlane.backupInterval", 24, "not a duration"},
		{"backup interval too short", "volumeSize: 30\n", "volumeSize: 30\n  backupInterval: 1m\n", "controlPlane.backupInterval", 24, "between 5m0s and 24h0m0s"},
		{"backup interval too long", "volumeSize: 30\n", "volumeSize: 30\n  backupInterval: 48h\n", "controlPlane.backupInterval", 24, "between 5m0s and 24h0m0s"},
		{"backup interval seconds", "volumeSize: 30\n", "volumeSize: 30\n  backupInterval: 90s\n", "controlPlane.backupInterval", 24, "whole number of minutes"},
		{"pool min greater than desired", "min: 1", "min: 2", "workerPools.general.desired", 28, "less than min"},
		{"pool desired greater than max", "desired: 1", "desired: 5", "workerPools.general.desired", 0, "greater than max"},
		{"pool max zero", "max: 3", "max: 0", "workerPools.general.max", 0, "out of range"},
		{"pool max missing", "    max: 3\n", "", "workerPools.general.max", 25, "required"},
		{"pool min negative", "min: 1", "min: -1", "workerPools.general.min", 0, "negative"},
		{"pool name invalid", "  general:", "  General_Pool:", "workerPools.General_Pool", 0, "DNS label"},
		{"pool name reserved", "  general:", "  controller:", "workerPools.controller", 0, "reserved"},
		{"pool instance types empty", "instanceTypes: [t3.medium]", "instanceTypes: []", "workerPools.general.instanceTypes", 0, "empty"},
		{"pool instance type shape", "instanceTypes: [t3.medium]", "instanceTypes: [t3.medium, large]", "workerPools.general.instanceTypes[1]", 0, "not an EC2"},
		{"pool mixed architectures", "instanceTypes: [t3.medium]", "instanceTypes: [t3.medium, t4g.medium]", "workerPools.general.instanceTypes", 0, "arm64 and x86_64"},
		{"pool volume small", "    max: 3\n", "    max: 3\n    volumeSize: 8\n", "workerPools.general.volumeSize", 30, "outside 20-16384"},
		{"label key invalid", "team: platform", "-team: platform", "workerPools.general.labels[\"-team\"]", 0, "label key"},
		{"label reserved prefix", "team: platform", "kubernetes.io/role: web", "workerPools.general.labels[\"kubernetes.io/role\"]", 0, "reserved"},
		{"label value invalid", "team: platform", "team: platform team", "workerPools.general.labels.team", 0, "label value"},
		{"taint bad effect", "dedicated=web:PreferNoSchedule", "dedicated=web:Never", "workerPools.general.taints[0]", 0, "effect"},
		{"taint no effect", "dedicated=web:PreferNoSchedule", "dedicated=web", "workerPools.general.taints[0]", 0, "no :Effect"},
		{"tag aws prefix", "owner: platform", "aws:owner: platform", "tags[\"aws:owner\"]", 0, "aws: prefix"},
		{"tag kforge prefix", "owner: platform", "kforge.io/cluster: x", "tags[\"kforge.io/cluster\"]", 0, "kforge.io/"},
		{"tag value too long", "owner: platform", "owner: " + strings.Repeat("x", 257), "tags.owner", 0, "AWS allows 256"},
		{"tag bad characters", "owner: platform", "owner: \"a|b\"", "tags.owner", 0, "characters"},
		{"unknown top-level key", "region: eu-west-1", "region: eu-west-1\nregoin: x", "regoin", 4, "unknown key"},
		{"unknown nested key typo", "vpcCIDR: 10.0.0.0/16", "vpcCidr: 10.0.0.0/16", "network.vpcCidr", 0, "unknown key"},
		{"key at wrong level", "region: eu-west-1", "region: eu-west-1\nazCount: 3", "azCount", 4, "unknown key"},
		{"bool expected", "registrar: none", "registrar: none\nemulator: yes", "emulator", 13, "true or false"},
		{"list expected", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: 198.51.100.0/24", "network.adminCIDRs", 0, "expected a list"},
		{"mapping expected", "controlPlane:\n  instanceType: t3.medium\n  volumeSize: 30", "controlPlane: big", "controlPlane", 0, "mapping"},
		{"duplicate key", "name: demo", "name: demo\nname: other", "name", 2, "set twice"},
		{"emulator needs ami", "registrar: none", "registrar: none\nemulator: true", "amiID", 1, "required when emulator"},
		{"ami id invalid", "registrar: none", "registrar: none\namiID: ami-xyz", "amiID", 13, "not an AMI id"},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d bad inputs; the rules need at least 30", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(validDoc, tc.old) {
				t.Fatalf("test bug: %q not in validDoc", tc.old)
			}
			doc := strings.Replace(validDoc, tc.old, tc.new, 1)
			file := "test.yaml"
			if tc.name == "prod az count" {
				doc = strings.Replace(doc, "name: demo\n", "name: demo\nenvironment: prod\n", 1)
				file = "prod.yaml"
			}
			line := tc.line
			if line == 0 {
				line = strings.Count(doc[:strings.Index(doc, tc.new)], "\n") + 1
			}
			runCase(t, doc, file, tc.field, line, tc.msg)
		})
	}
}

// runCase loads doc as file and checks that it fails validation with an
// error for field on line whose message contains msg.
func runCase(t *testing.T, doc, file, field string, line int, msg string) {
	t.Helper()
	_, err := loader{readFile: memFS(map[string]string{file: doc})}.load(file)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want *ValidationError (exit code 2), got %T: %v", err, err)
	}
	if verr.ExitCode() != 2 {
		t.Fatalf("exit code %d, want 2", verr.ExitCode())
	}
	want := fmt.Sprintf("%s:%d: %s: ", file, line, field)
	text := err.Error()
	for _, fe := range verr.Errors {
		if fe.Field == field && fe.Line == line && strings.Contains(fe.Message, msg) {
			if fe.Fix == "" {
				t.Errorf("error for %s has no fix", field)
			}
			if !strings.Contains(text, want) {
				t.Errorf("message does not contain %q:\n%s", want, text)
			}
			return
		}
	}
	t.Fatalf("no error for %s at line %d containing %q; got:\n%s", field, line, msg, text)
}

// TestLongestDerivedNamesFit proves the 20-character name limit keeps every
// derived AWS name valid in the region with the longest code.
func TestLongestDerivedNamesFit(t *testing.T) {
	doc := strings.Replace(validDoc, "name: demo", "name: abcdefghij-klmnopqrs", 1)
	doc = strings.Replace(doc, "region: eu-west-1", "region: ap-southeast-5", 1)
	doc = strings.Replace(doc, "  general:", "  abcdefghijklmnop:", 1)
	doc = strings.Replace(doc, "bucket: demo-state-bucket", "region: ap-southeast-5", 1)
	c, err := loadString(t, doc)
	if err != nil {
		t.Fatalf("the longest valid names must load: %v", err)
	}
	if len(c.Name) != maxClusterName {
		t.Fatalf("test name has %d characters, want %d", len(c.Name), maxClusterName)
	}
	longest := map[int]int{}
	for _, d := range c.DerivedNames() {
		if len(d.Name) > d.Limit {
			t.Errorf("%s %q is %d characters, limit %d", d.What, d.Name, len(d.Name), d.Limit)
		}
		longest[d.Limit] = max(longest[d.Limit], len(d.Name))
	}
	t.Logf("longest derived names by limit: %v", longest)

	// The check itself must fire when a name is too long.
	c.Name = strings.Repeat("a", 40)
	v := &validator{c: c, set: map[string]position{}, file: "test.yaml"}
	v.derivedNames()
	if len(v.errs) == 0 {
		t.Fatal("a 40-character cluster name produced no derived-name error")
	}
}

// AWS counts a tag's length in Unicode characters, not bytes: a value of
// 200 two-byte letters (400 bytes) is within its 256.
func TestTagLengthsCountCharacters(t *testing.T) {
	doc := strings.Replace(validDoc, "owner: platform", "owner: "+strings.Repeat("é", 200), 1)
	if _, err := loadString(t, doc); err != nil {
		t.Fatalf("a 200-character tag value is refused: %v", err)
	}
}

// TestNodeAddressesAtTheEdge: a /24 gives each zone a /28 with room for one
// node; the valid document's pools may grow to 5 nodes (the control plane,
// max 3 and one surge), so 5 zones are enough and 4 are not.
func TestNodeAddressesAtTheEdge(t *testing.T) {
	small := strings.Replace(validDoc, "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.0/24", 1)
	if _, err := loadString(t, strings.Replace(small, "azCount: 2", "azCount: 5", 1)); err != nil {
		t.Errorf("5 zones of a /24 hold 5 nodes, yet: %v", err)
	}
	_, err := loadString(t, strings.Replace(small, "azCount: 2", "azCount: 4", 1))
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "network.vpcCIDR") {
		t.Errorf("4 zones of a /24 hold 4 nodes of 5, yet: %v", err)
	}
}
