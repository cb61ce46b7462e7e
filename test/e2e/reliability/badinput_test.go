package reliability

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/localaws"
)

// validEnv is a complete, valid environment the bad cases edit; the test
// checks it loads before editing it, so a case fails for its own edit only.
const validEnv = `name: kforge-rel
region: us-east-1
emulator: true
amiID: ami-760aaa0f
dns:
  domain: rel.kforge.test
  registrar: none
network:
  azCount: 2
  vpcCIDR: 10.50.0.0/16
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
tags:
  cost-center: rel
`

// badConfigs are edits of validEnv, each invalid in one field, and the
// field the error must name.
var badConfigs = []struct {
	name, old, new, field string
}{
	{"cluster name with capitals", "name: kforge-rel", "name: Kforge_Rel", "name"},
	{"cluster name too long for the NLB", "name: kforge-rel", "name: kforge-rel-cluster-with-a-very-long-name", "name"},
	{"unknown region", "region: us-east-1", "region: us-east-9", "region"},
	{"typo in a top-level key", "region: us-east-1", "regoin: us-east-1", "regoin"},
	{"typo in a nested key", "  azCount: 2", "  azCuont: 2", "network.azCuont"},
	{"AZ count zero", "  azCount: 2", "  azCount: 0", "network.azCount"},
	{"AZ count too high", "  azCount: 2", "  azCount: 9", "network.azCount"},
	{"VPC CIDR not a CIDR", "vpcCIDR: 10.50.0.0/16", "vpcCIDR: 10.50.0.300/16", "network.vpcCIDR"},
	{"VPC CIDR too small", "vpcCIDR: 10.50.0.0/16", "vpcCIDR: 10.50.0.0/28", "network.vpcCIDR"},
	{"VPC overlaps the pod CIDR", "vpcCIDR: 10.50.0.0/16", "vpcCIDR: 10.244.0.0/16", "podCIDR"},
	{"pod and service CIDRs overlap", "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.244.0.0/16", "serviceCIDR"},
	{"invalid domain", "domain: rel.kforge.test", "domain: rel..kforge", "dns.domain"},
	{"unknown registrar", "registrar: none", "registrar: godaddy", "dns.registrar"},
	{"unsupported Kubernetes version", "version: 1.36.6", "version: 1.19.0", "kubernetes.version"},
	{"HTTP node port out of range", "httpNodePort: 30080", "httpNodePort: 80", "ingress.httpNodePort"},
	{"node ports equal", "httpNodePort: 30080", "httpNodePort: 30443", "NodePort"},
	{"bad ACME e-mail", "acmeEmail: ops@kforge.dev", "acmeEmail: not-an-email", "ingress.acmeEmail"},
	{"instance type without size", "  instanceType: t3.medium", "  instanceType: t3", "controlPlane.instanceType"},
	{"control-plane volume too small", "  volumeSize: 30", "  volumeSize: 1", "controlPlane.volumeSize"},
	{"pool min above desired", "    min: 1\n    desired: 1", "    min: 2\n    desired: 1", "workerPools.general.desired"},
	{"pool desired above max", "    desired: 1\n    max: 3", "    desired: 5\n    max: 3", "workerPools.general"},
	{"pool max zero", "    max: 3", "    max: 0", "workerPools.general.max"},
	{"pool without instance types", "    instanceTypes: [t3.medium]", "    instanceTypes: []", "workerPools.general.instanceTypes"},
	{"pool name invalid", "  general:", "  General_Pool:", "workerPools.General_Pool"},
	{"AMI id malformed", "amiID: ami-760aaa0f", "amiID: ubuntu-latest", "amiID"},
	{"tag with the reserved aws: prefix", "cost-center: rel", "aws:owner: rel", "tags"},
	{"value of the wrong type", "  azCount: 2", "  azCount: two", "network.azCount"},
	{"YAML syntax error", "  azCount: 2", "  azCount: [2", "rel.yaml"},
	{"state key not clean", "region: us-east-1", "region: us-east-1\nstate:\n  key: /abs//key", "state.key"},
}

// badCommands are command lines kforge must refuse as usage errors.
var badCommands = []struct {
	name string
	args []string
	want string // a fragment the message must contain
}{
	{"unknown command", []string{"upp", "local"}, "upp"},
	{"unknown flag", []string{"up", "local", "--yse"}, "--yse"},
	{"up without an environment", []string{"up"}, "environment"},
	{"plan with two environments", []string{"plan", "local", "dev"}, "environment"},
	{"bad --output", []string{"plan", "local", "--output", "yaml"}, "--output"},
	{"--local with --endpoint", []string{"plan", "local", "--local"}, "--local"},
	{"unlock without a lock id", []string{"unlock", "local"}, "lock id"},
	{"environment that does not exist", []string{"plan", "nosuchenv"}, "nosuchenv"},
	{"up without --yes on a non-terminal", []string{"up", "local"}, "--yes"},
}

// TestBadInputMakesNoCloudCall runs every invalid configuration and command
// line against an emulator that records requests: each must exit 2 with a
// message naming the field, and the emulator must have served no request.
func TestBadInputMakesNoCloudCall(t *testing.T) {
	needTools(t)
	t.Parallel()
	em := startEmulator(t, true)
	envsDir := copyEnvs(t)
	validDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(validDir, "rel.yaml"), []byte(validEnv), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.LoadEnv(validDir, "rel"); err != nil {
		t.Fatalf("the valid fixture does not load; fix validEnv: %v", err)
	}
	ctx := context.Background()
	requests := func() int {
		t.Helper()
		n, err := localaws.Requests(ctx, em.URL())
		if err != nil {
			t.Fatalf("counting emulator requests: %v", err)
		}
		return n
	}
	before := requests()
	cases := 0
	check := func(t *testing.T, k *kforge, want string, args ...string) {
		t.Helper()
		r := k.run(args...)
		if r.code != 2 {
			t.Errorf("want exit 2, got:\n%s", r)
		}
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the message should name %q:\n%s", want, r)
		}
		if n := requests(); n != before {
			t.Errorf("the emulator served %d requests for invalid input", n-before)
			before = n
		}
		cases++
	}
	for _, c := range badConfigs {
		t.Run("config/"+c.name, func(t *testing.T) {
			if !strings.Contains(validEnv, c.old) {
				t.Fatalf("validEnv does not contain %q: update the case", c.old)
			}
			dir := t.TempDir()
			bad := strings.Replace(validEnv, c.old, c.new, 1)
			if err := os.WriteFile(filepath.Join(dir, "rel.yaml"), []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
			k := newKforge(t, dir, em.URL())
			check(t, k, c.field, "plan", "rel")
			// up refuses the same way (with --yes so confirmation is not the reason).
			check(t, k, c.field, "up", "rel", "--yes")
		})
	}
	for _, c := range badCommands {
		t.Run("cli/"+c.name, func(t *testing.T) {
			check(t, newKforge(t, envsDir, em.URL()), c.want, c.args...)
		})
	}
	if n := requests(); n != before {
		t.Errorf("emulator requests grew by %d", n-before)
	}
	t.Logf("FIGURE bad input: %d invalid configurations x {plan, up} + %d command lines = %d runs, all exit 2 naming the field, %d emulator requests", len(badConfigs), len(badCommands), cases, requests())
}
