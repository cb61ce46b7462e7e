package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const envsDir = "../../envs"

// TestEnvironmentsLoad loads every committed environment and checks that they
// differ where they should.
func TestEnvironmentsLoad(t *testing.T) {
	envs := map[string]*Cluster{}
	for _, name := range []string{"dev", "staging", "prod", "local"} {
		c, err := LoadEnv(envsDir, name)
		if err != nil {
			t.Fatalf("envs/%s.yaml: %v", name, err)
		}
		// The only expected warning: the example ACME address must be
		// replaced before applying to AWS (not needed for the emulator).
		for _, w := range c.Warnings {
			if w.Field != "ingress.acmeEmail" || c.Emulator {
				t.Errorf("envs/%s.yaml: unexpected warning %v", name, w)
			}
		}
		if c.Environment != name {
			t.Errorf("envs/%s.yaml: environment %q", name, c.Environment)
		}
		envs[name] = c
	}

	type want struct {
		azCount             int
		nat, emulator       bool
		controller          string
		min, desired, max   int
		region, amiRequired string
	}
	wants := map[string]want{
		"dev":     {azCount: 1, controller: "t4g.small", min: 1, desired: 1, max: 3},
		"staging": {azCount: 2, controller: "t3.large", min: 2, desired: 2, max: 6},
		"prod":    {azCount: 3, nat: true, controller: "m6i.large", min: 3, desired: 3, max: 12},
		"local":   {azCount: 2, emulator: true, controller: "t3.medium", min: 1, desired: 2, max: 3, region: "us-east-1", amiRequired: "yes"},
	}
	for name, w := range wants {
		c := envs[name]
		g := c.WorkerPools["general"]
		if c.Network.AZCount != w.azCount || c.Network.NATGateway != w.nat || c.Emulator != w.emulator ||
			c.ControlPlane.InstanceType != w.controller || g.Min != w.min || g.Desired != w.desired || g.Max != w.max {
			t.Errorf("%s: azCount=%d nat=%v emulator=%v controller=%s general=%d/%d/%d, want %+v",
				name, c.Network.AZCount, c.Network.NATGateway, c.Emulator, c.ControlPlane.InstanceType, g.Min, g.Desired, g.Max, w)
		}
		if w.region != "" && c.Region != w.region {
			t.Errorf("%s: region %s, want %s", name, c.Region, w.region)
		}
		if (w.amiRequired != "") != (c.AMIID != "") {
			t.Errorf("%s: amiID %q", name, c.AMIID)
		}
	}
	// Shared settings come from base.yaml.
	for name, c := range envs {
		if c.Kubernetes.Version != DefaultKubernetesVersion || c.Ingress.ACMEEmail == "" || c.DNS.Registrar != "none" {
			t.Errorf("%s: base settings missing: version=%s email=%q registrar=%q", name, c.Kubernetes.Version, c.Ingress.ACMEEmail, c.DNS.Registrar)
		}
	}
}

func TestDefaults(t *testing.T) {
	doc := `name: demo
region: us-west-2
dns: {domain: demo.example.org}
ingress: {acmeEmail: ops@kforge.dev}
workerPools:
  general: {max: 2}
`
	c, err := loadString(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{
		"environment": c.Environment, "azCount": c.Network.AZCount, "vpc": c.Network.VPCCIDR,
		"pod": c.Kubernetes.PodCIDR, "svc": c.Kubernetes.ServiceCIDR, "version": c.Kubernetes.Version,
		"http": c.Ingress.HTTPNodePort, "https": c.Ingress.HTTPSNodePort, "controller": c.ControlPlane.InstanceType,
		"cpVolume": c.ControlPlane.VolumeSize, "registrar": c.DNS.Registrar, "stateRegion": c.State.Region,
		"stateKey": c.State.Key, "forceDestroy": c.CertsBucketForceDestroy,
		"poolTypes": c.WorkerPools["general"].InstanceTypes, "poolMin": c.WorkerPools["general"].Min,
		"poolDesired": c.WorkerPools["general"].Desired, "poolVolume": c.WorkerPools["general"].VolumeSize,
	}
	want := map[string]any{
		"environment": "test", "azCount": 2, "vpc": "10.0.0.0/16",
		"pod": "10.244.0.0/16", "svc": "10.96.0.0/12", "version": "1.36.6",
		"http": 30080, "https": 30443, "controller": "t3.medium",
		"cpVolume": 30, "registrar": "none", "stateRegion": "us-west-2",
		"stateKey": "demo/test/terraform.tfstate", "forceDestroy": true,
		"poolTypes": []string{"t3.medium"}, "poolMin": 0,
		"poolDesired": 0, "poolVolume": 30,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %v\nwant %v", got, want)
	}
	if c.Domain != "demo.example.org" {
		t.Errorf("c.Domain = %q; the embedded DNS section must promote Domain", c.Domain)
	}
}

// TestBaseMerge checks that the environment file wins, maps merge key by key,
// lists are replaced, and errors name the file that set the value.
func TestBaseMerge(t *testing.T) {
	base := `kubernetes:
  version: 1.35.4
network:
  adminCIDRs: [198.51.100.0/24, 192.0.2.0/24]
workerPools:
  general:
    instanceTypes: [m7i.large]
    min: 1
    max: 4
    labels: {tier: base, team: a}
tags: {project: kforge, owner: base}
`
	env := `base: shared/base.yaml
name: demo
region: eu-west-1
dns: {domain: demo.example.org}
ingress: {acmeEmail: ops@kforge.dev}
network:
  adminCIDRs: [203.0.113.0/24]
workerPools:
  general:
    max: 6
    labels: {team: b}
tags: {owner: env}
`
	c, err := loader{readFile: memFS(map[string]string{"envs/dev.yaml": env, "envs/shared/base.yaml": base})}.load("envs/dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g := c.WorkerPools["general"]
	if c.Kubernetes.Version != "1.35.4" || g.Max != 6 || g.Min != 1 || g.InstanceTypes[0] != "m7i.large" {
		t.Errorf("merge: version=%s pool=%+v", c.Kubernetes.Version, g)
	}
	if !reflect.DeepEqual(g.Labels, map[string]string{"tier": "base", "team": "b"}) {
		t.Errorf("labels merge key by key: %v", g.Labels)
	}
	if !reflect.DeepEqual(c.Tags, map[string]string{"project": "kforge", "owner": "env"}) {
		t.Errorf("tags: %v", c.Tags)
	}
	if !reflect.DeepEqual(c.Network.AdminCIDRs, []string{"203.0.113.0/24"}) {
		t.Errorf("lists are replaced, got %v", c.Network.AdminCIDRs)
	}

	// An error in a value the base file set is reported in the base file,
	// one the environment set in the environment file, both at once.
	badBase := strings.Replace(base, "version: 1.35.4", "version: 1.20.0", 1)
	badEnv := strings.Replace(env, "max: 6", "max: 0", 1)
	_, err = loader{readFile: memFS(map[string]string{"envs/dev.yaml": badEnv, "envs/shared/base.yaml": badBase})}.load("envs/dev.yaml")
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want ValidationError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"envs/shared/base.yaml:2: kubernetes.version:",
		"envs/dev.yaml:10: workerPools.general.max:",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}

	// Unknown keys in the base file are reported there.
	_, err = loader{readFile: memFS(map[string]string{"envs/dev.yaml": env, "envs/shared/base.yaml": base + "colour: blue\n"})}.load("envs/dev.yaml")
	if err == nil || !strings.Contains(err.Error(), "envs/shared/base.yaml:12: colour: unknown key") {
		t.Errorf("unknown key in base: %v", err)
	}

	// A missing base file is reported on the base: line.
	_, err = loader{readFile: memFS(map[string]string{"envs/dev.yaml": env})}.load("envs/dev.yaml")
	if err == nil || !strings.Contains(err.Error(), "envs/dev.yaml:1: base: base file envs/shared/base.yaml does not exist") {
		t.Errorf("missing base: %v", err)
	}

	// A base file cannot chain to another.
	_, err = loader{readFile: memFS(map[string]string{"envs/dev.yaml": env, "envs/shared/base.yaml": "base: other.yaml\n" + base})}.load("envs/dev.yaml")
	if err == nil || !strings.Contains(err.Error(), "envs/shared/base.yaml:1: base: a base file cannot name another") {
		t.Errorf("chained base: %v", err)
	}
}

func TestUnknownKeySuggestions(t *testing.T) {
	tests := []struct{ edit, want string }{
		{"region: eu-west-1\nregoin: x", "did you mean region?"},
		{"region: eu-west-1\nazCount: 3", "azCount belongs at network.azCount"},
		{"region: eu-west-1\nworkerpools: {}", "did you mean workerPools?"},
		{"region: eu-west-1\nzzzzzz: 1", "keys allowed in the top level:"},
	}
	for _, tc := range tests {
		_, err := loadString(t, strings.Replace(validDoc, "region: eu-west-1", tc.edit, 1))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: want %q in %v", tc.edit, tc.want, err)
		}
	}
	_, err := loadString(t, strings.Replace(validDoc, "    min: 1", "    minimum: 1", 1))
	if err == nil || !strings.Contains(err.Error(), "test.yaml:27: workerPools.general.minimum: unknown key\n    fix: did you mean workerPools.general.min?") {
		t.Errorf("pool key typo: %v", err)
	}
}

// TestAllErrorsAtOnce checks that independent problems are reported together.
func TestAllErrorsAtOnce(t *testing.T) {
	doc := strings.NewReplacer(
		"azCount: 2", "azCount: 9",
		"httpsNodePort: 30443", "httpsNodePort: 80",
		"max: 3", "max: 0",
		"domain: dev.example.org", "domain: -bad-.org",
	).Replace(validDoc)
	_, err := loadString(t, doc)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("got %v", err)
	}
	fields := map[string]bool{}
	for _, fe := range verr.Errors {
		fields[fe.Field] = true
	}
	for _, f := range []string{"network.azCount", "ingress.httpsNodePort", "workerPools.general.max", "dns.domain"} {
		if !fields[f] {
			t.Errorf("no error for %s in:\n%v", f, err)
		}
	}
	// Sorted by line, so the file reads top to bottom.
	for i := 1; i < len(verr.Errors); i++ {
		if verr.Errors[i].Line < verr.Errors[i-1].Line {
			t.Errorf("errors not sorted by line: %v", err)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		doc  string
		line int
		msg  string
	}{
		{"name: demo\nregion: x\n  bad: indent\n", 3, "YAML syntax error"},
		{"name: demo\nregion: [eu-west-1\n", 0, ""}, // yaml.v3 reports the line of the flow start context
		{"name: demo\n  region: x\n", 2, "YAML syntax error"},
		{"name: demo\n\tregion: x\n", 2, "YAML syntax error"},
		{"", 0, "empty"},
		{"# only a comment\n", 0, "empty"},
		{"- a\n- b\n", 1, "top level"},
		{"name: demo\n---\nname: other\n", 2, "more than one YAML document"},
		{"a: &x [*x]\n", 0, ""},
	}
	for _, tc := range tests {
		_, err := loadString(t, tc.doc)
		var verr *ValidationError
		if !errors.As(err, &verr) {
			t.Errorf("%q: want ValidationError, got %T %v", tc.doc, err, err)
			continue
		}
		if tc.msg == "" {
			continue
		}
		if verr.Errors[0].Line != tc.line || !strings.Contains(verr.Errors[0].Message, tc.msg) {
			t.Errorf("%q: got line %d %q, want line %d %q", tc.doc, verr.Errors[0].Line, verr.Errors[0].Message, tc.line, tc.msg)
		}
	}
}

func TestLoadEnvErrors(t *testing.T) {
	var verr *ValidationError
	_, err := LoadEnv(envsDir, "nosuch")
	if !errors.As(err, &verr) || !strings.Contains(err.Error(), "one of: dev, local, prod, staging") {
		t.Errorf("missing env: %v", err)
	}
	_, err = LoadEnv(envsDir, "base")
	if !errors.As(err, &verr) || !strings.Contains(err.Error(), "not an environment") {
		t.Errorf("base as an environment: %v", err)
	}
	_, err = LoadEnv(envsDir, "../etc/passwd")
	if !errors.As(err, &verr) {
		t.Errorf("path traversal must be invalid input: %v", err)
	}
	// An unreadable file is a runtime error, not invalid input.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "dev.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = LoadEnv(dir, "dev")
	if err == nil || errors.As(err, &verr) {
		t.Errorf("a directory named dev.yaml: want a non-validation error, got %v", err)
	}
}

func TestWarnings(t *testing.T) {
	doc := strings.NewReplacer(
		"adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [0.0.0.0/0]",
		"acmeEmail: ops@kforge.dev", "acmeEmail: ops@example.com",
	).Replace(validDoc)
	c, err := loadString(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 2 || c.Warnings[0].Field != "network.adminCIDRs[0]" || c.Warnings[1].Field != "ingress.acmeEmail" {
		t.Errorf("warnings: %v", c.Warnings)
	}
	// One zone is allowed outside production, with a warning that says what shares it.
	one, err := loadString(t, strings.Replace(validDoc, "azCount: 2", "azCount: 1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Warnings) != 1 || one.Warnings[0].Field != "network.azCount" || !strings.Contains(one.Warnings[0].Message, "EFS mount target") {
		t.Errorf("azCount 1 warnings: %v", one.Warnings)
	}
	// Six NAT gateways need six Elastic IPs, one over the default quota;
	// five do not warn.
	for zones, want := range map[string]int{"5": 0, "6": 1} {
		nat, err := loadString(t, strings.Replace(validDoc, "azCount: 2", "azCount: "+zones+"\n  natGateway: true", 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(nat.Warnings) != want || want == 1 && !strings.Contains(nat.Warnings[0].Message, "Elastic IP") {
			t.Errorf("natGateway with %s zones: warnings %v", zones, nat.Warnings)
		}
	}
	// Fifty admin CIDRs fill the control plane's group with kforge's ten
	// rules to the default 60; one more warns.
	for n, want := range map[int]int{50: 0, 51: 1} {
		cidrs := make([]string, n)
		for i := range cidrs {
			cidrs[i] = fmt.Sprintf("198.51.%d.0/24", i)
		}
		many, err := loadString(t, strings.Replace(validDoc, "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: ["+strings.Join(cidrs, ", ")+"]", 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(many.Warnings) != want || want == 1 && (many.Warnings[0].Field != "network.adminCIDRs" || !strings.Contains(many.Warnings[0].Message, "61 inbound rules")) {
			t.Errorf("%d admin CIDRs: warnings %v", n, many.Warnings)
		}
	}
	// In production the open API is an error.
	doc = strings.Replace(doc, "environment: test", "environment: prod\n", 1)
	doc = strings.Replace(doc, "azCount: 2", "azCount: 3", 1)
	_, err = loader{readFile: memFS(map[string]string{"prod.yaml": doc})}.load("prod.yaml")
	if err == nil || !strings.Contains(err.Error(), "network.adminCIDRs[0]: 0.0.0.0/0 opens") {
		t.Errorf("prod with 0.0.0.0/0: %v", err)
	}
}

func TestKubernetesVersions(t *testing.T) {
	list := SupportedKubernetesVersions()
	if len(list) != 2 || list[0].Minor != "1.35" || list[1].Minor != "1.36" {
		t.Errorf("supported: %v", list)
	}
	if checkKubernetesVersion(DefaultKubernetesVersion) != "" {
		t.Errorf("the default %s is not supported", DefaultKubernetesVersion)
	}
	for _, r := range list {
		if msg := checkKubernetesVersion(r.LatestPatch); msg != "" {
			t.Errorf("%s: %s", r.LatestPatch, msg)
		}
		if minor, err := KubernetesMinor(r.LatestPatch); err != nil || minor != r.Minor {
			t.Errorf("KubernetesMinor(%s) = %s, %v", r.LatestPatch, minor, err)
		}
	}
	for _, bad := range []string{"1.34.9", "1.38.0", "v1.36.1", "1.36", "1.36.x", "1.036.1", "2.0.0"} {
		if checkKubernetesVersion(bad) == "" {
			t.Errorf("%s accepted", bad)
		}
	}
	if KubernetesReleasesCheckedOn() == "" {
		t.Error("no check date")
	}
}

func TestControlPlaneMinimum(t *testing.T) {
	for typ, below := range map[string]bool{
		"t3.nano": true, "t3.micro": true, "t4g.micro": true, "t2.small": true,
		"m7g.medium": true, "c6g.medium": true, "a1.medium": true, "r8g.medium": true,
		"t3.small": false, "t3a.small": false, "t4g.small": false, "t4g.medium": false,
		"t2.medium": false, "m7g.large": false, "m5.large": false, "c7i.large": false,
	} {
		if got := belowControlPlaneMinimum(typ); got != below {
			t.Errorf("belowControlPlaneMinimum(%s) = %v, want %v", typ, got, below)
		}
	}
}

func TestInstanceTypeShapes(t *testing.T) {
	good := []string{"t3.medium", "m7g.large", "c6in.2xlarge", "m7i-flex.large", "u-6tb1.metal", "x2iedn.metal", "c7i.metal-24xl", "t3a.nano", "p4d.24xlarge"}
	bad := []string{"t3", "medium", "t3.Medium", "t3.medium.large", "3t.medium", "t3.0xlarge", "m7g.huge", "t3_medium"}
	for _, s := range good {
		if !instanceTypePattern.MatchString(s) {
			t.Errorf("%s rejected", s)
		}
	}
	for _, s := range bad {
		if instanceTypePattern.MatchString(s) {
			t.Errorf("%s accepted", s)
		}
	}
	for s, arm := range armTypes {
		if isArm(s) != arm {
			t.Errorf("isArm(%s) = %v", s, !arm)
		}
	}
}

// TestDecodeAndRuleErrorsTogether checks that a typo does not hide rule
// errors elsewhere, and that a value of the wrong type is reported once.
func TestDecodeAndRuleErrorsTogether(t *testing.T) {
	doc := strings.NewReplacer(
		"vpcCIDR: 10.0.0.0/16", "vpcCidr: 10.0.0.0/16",
		"azCount: 2", "azCount: two",
		"max: 3", "max: 0",
		"name: demo", "name: [demo]",
	).Replace(validDoc)
	_, err := loadString(t, doc)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("got %v", err)
	}
	count := map[string]int{}
	for _, fe := range verr.Errors {
		count[fe.Field]++
	}
	want := map[string]int{"name": 1, "network.vpcCidr": 1, "network.azCount": 1, "workerPools.general.max": 1}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("errors by field %v, want %v:\n%v", count, want, err)
	}
}

// TestOverlapReportedWhereChanged checks that an overlap between a range in
// the environment file and one in the base file is reported in the former.
func TestOverlapReportedWhereChanged(t *testing.T) {
	base := "kubernetes:\n  podCIDR: 10.244.0.0/16\n"
	env := strings.Replace(validDoc, "name: demo", "base: base.yaml\nname: demo", 1)
	env = strings.Replace(env, "  podCIDR: 10.244.0.0/16\n", "", 1)
	env = strings.Replace(env, "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.244.0.0/16", 1)
	_, err := loader{readFile: memFS(map[string]string{"test.yaml": env, "base.yaml": base})}.load("test.yaml")
	if err == nil || !strings.Contains(err.Error(), "test.yaml:9: network.vpcCIDR: 10.244.0.0/16 overlaps kubernetes.podCIDR") {
		t.Errorf("got %v", err)
	}
}
