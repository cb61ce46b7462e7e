package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/localaws"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// badConfig breaks several rules at once; every one must be reported.
const badConfig = `name: Bad_Name
region: eu-west-1
dns:
  domain: not a domain
network:
  azCount: 9
  vpcCIDR: 10.0.0.0/33
workerPools:
  general:
    instanceTypes: [t3.medium]
    min: 3
    desired: 2
    max: 1
ingress:
  httpNodePort: 80
  acmeEmail: ops@example.com
kubernetes:
  versoin: 1.36.6
`

func TestInvalidInputExitsTwoWithoutCloudCalls(t *testing.T) {
	requireTools(t)
	em := localawstest.StartForTest(t)
	dir := t.TempDir()
	envs := filepath.Join(dir, "envs")
	if err := os.MkdirAll(envs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(envs, "bad.yaml"), []byte(badConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(repoRoot, "envs")
	cases := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"up with an invalid config", []string{"up", "bad", "--yes"}, []string{"name", "dns.domain", "network.azCount", "network.vpcCIDR", "workerPools.general", "versoin"}},
		{"init with an invalid config", []string{"init", "bad"}, []string{"dns.domain"}},
		{"plan with an invalid config", []string{"plan", "bad"}, []string{"network.vpcCIDR"}},
		{"down with an invalid config", []string{"down", "bad", "--yes"}, []string{"workerPools.general"}},
		{"status with an invalid config", []string{"status", "bad"}, []string{"dns.domain"}},
		{"unknown environment", []string{"up", "nosuchenv", "--yes"}, []string{"nosuchenv"}},
		{"up without --yes on a non-terminal", []string{"up", "local", "--envs-dir", local}, []string{"--yes", "not a terminal"}},
		{"missing environment argument", []string{"up", "--yes"}, []string{"environment"}},
		{"bad output format", []string{"status", "local", "--output", "yaml", "--envs-dir", local}, []string{"--output"}},
		{"unknown flag", []string{"up", "local", "--yse"}, []string{"yse"}},
		{"unknown command", []string{"upp", "local"}, []string{"upp"}},
		{"--local with --endpoint", []string{"plan", "local", "--local", "--envs-dir", local}, []string{"--local"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--envs-dir", envs, "--workdir", filepath.Join(dir, ".kforge"), "--endpoint", em.URL()}, c.args...)
			r := kforge(t, dir, time.Minute, args...)
			if r.code != 2 {
				t.Fatalf("want exit 2, got %s", r)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
				}
			}
		})
	}
	n, err := localaws.Requests(context.Background(), em.URL())
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the emulator served %d requests; invalid input must be refused before any cloud call", n)
	}
}
