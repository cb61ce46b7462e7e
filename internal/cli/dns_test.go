package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/kforge/kforge/internal/cluster"
	kdns "github.com/kforge/kforge/internal/dns"
	"github.com/kforge/kforge/internal/dns/check/checktest"
	"github.com/kforge/kforge/internal/dns/porkbun"
	"github.com/kforge/kforge/internal/dns/porkbun/porkbuntest"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/testutil/dnsfixture"
)

const (
	dnsTestKey    = "pk1_CMDLEAK_key_00112233445566778899"
	dnsTestSecret = "sk1_CMDLEAK_secret_99887766554433221100"
	dnsTestNLB    = "kforge-dev-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com"
)

var dnsNLBIPs = []string{"203.0.113.10", "203.0.113.11"}

// writeDNSEnv writes a valid environment "dnstest" whose dns section is dnsYAML.
func writeDNSEnv(t *testing.T, dnsYAML string) string {
	t.Helper()
	dir := t.TempDir()
	env := `name: kforge-dnstest
region: eu-west-1
` + dnsYAML + `
kubernetes:
  version: 1.36.6
ingress:
  acmeEmail: ops@kforge.dev
workerPools:
  general:
    instanceTypes: [t3.medium]
    min: 1
    desired: 1
    max: 2
`
	if err := os.WriteFile(filepath.Join(dir, "dnstest.yaml"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

type dnsRun struct {
	code           int
	stdout, stderr string
}

// runDNS runs `kforge <args>` through the real root command, with the dns
// command's outside links replaced by deps.
func runDNS(t *testing.T, envsDir string, deps dnsDeps, args ...string) dnsRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Output: "text", EnvsDir: envsDir, WorkDir: filepath.Join(t.TempDir(), ".kforge")}
	root := NewRootCmd(app)
	for _, c := range root.Commands() {
		if c.Name() == "dns" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(newDNSCmdWith(app, deps))
	// The root's flags set their defaults into app, so directories go as flags.
	root.SetArgs(append([]string{"--envs-dir", envsDir, "--workdir", app.WorkDir}, args...))
	err := root.ExecuteContext(context.Background())
	code := ExitCode(err)
	if code == ExitFailure && !app.ran {
		code = ExitUsage
	}
	if err != nil {
		stderr.WriteString("Error: " + err.Error() + "\n")
	}
	return dnsRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func fakeOutputs(out cluster.Outputs) func(context.Context, *Env) (*cluster.Outputs, error) {
	return func(context.Context, *Env) (*cluster.Outputs, error) { return &out, nil }
}

// startPorkbun starts a fake Porkbun that takes the test's keys and
// delegates kforge.dev to ns.
func startPorkbun(t *testing.T, ns []string) *porkbuntest.Server {
	t.Helper()
	return porkbuntest.Start(t, dnsTestKey, dnsTestSecret, map[string][]string{"kforge.dev": ns})
}

func porkbunDeps(srv *porkbuntest.Server, out cluster.Outputs) dnsDeps {
	env := map[string]string{porkbun.EnvAPIKey: dnsTestKey, porkbun.EnvSecretAPIKey: dnsTestSecret, porkbun.EnvAPIURL: srv.BaseURL()}
	return dnsDeps{
		Outputs:        fakeOutputs(out),
		Getenv:         func(k string) string { return env[k] },
		ResolvConf:     "/nonexistent/resolv.conf",
		PorkbunOptions: porkbun.Options{Timeout: 2 * time.Second, MaxAttempts: 2, MinInterval: time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
	}
}

var porkbunEnvYAML = `dns:
  domain: kforge.dev
  registrar: porkbun`

func TestDNSDelegatePorkbun(t *testing.T) {
	outputs := cluster.Outputs{NameServers: dnsfixture.ZoneNS, NLBDNSName: dnsTestNLB}
	envs := writeDNSEnv(t, porkbunEnvYAML)
	var all []string // every output, checked for the keys at the end
	// delegateWith runs kforge dns delegate dnstest and keeps its output for
	// the key check at the end; delegate does so against srv.
	delegateWith := func(t *testing.T, deps dnsDeps, args ...string) dnsRun {
		t.Helper()
		r := runDNS(t, envs, deps, append([]string{"dns", "delegate", "dnstest"}, args...)...)
		all = append(all, r.stdout, r.stderr)
		return r
	}
	delegate := func(t *testing.T, srv *porkbuntest.Server, args ...string) dnsRun {
		t.Helper()
		return delegateWith(t, porkbunDeps(srv, outputs), args...)
	}

	t.Run("different: updates once", func(t *testing.T) {
		srv := startPorkbun(t, dnsfixture.PorkbunNS)
		r := delegate(t, srv, "--yes")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if srv.Calls("updateNs") != 1 {
			t.Fatalf("updateNs calls = %d, want 1", srv.Calls("updateNs"))
		}
		if !kdns.SameNameServers(srv.NameServers("kforge.dev"), dnsfixture.ZoneNS) {
			t.Fatalf("Porkbun holds %v", srv.NameServers("kforge.dev"))
		}
		for _, want := range []string{"+  ns-0.awsdns-00.com", "-  curitiba.ns.porkbun.com", "Updated: Porkbun now delegates kforge.dev"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("equal: no updateNs call", func(t *testing.T) {
		srv := startPorkbun(t, []string{"NS-0.AWSDNS-00.COM", "ns-512.awsdns-00.net", "ns-1024.awsdns-00.org.", "ns-1536.awsdns-00.co.uk"})
		r := delegate(t, srv, "--yes")
		if r.code != 0 || srv.Calls("getNs") != 1 || srv.Calls("updateNs") != 0 {
			t.Fatalf("exit %d getNs=%d updateNs=%d\n%s%s", r.code, srv.Calls("getNs"), srv.Calls("updateNs"), r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "nothing to change") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
	})
	t.Run("DS records at the registry: refused, no change", func(t *testing.T) {
		srv := startPorkbun(t, dnsfixture.PorkbunNS)
		srv.SetDSRecords("kforge.dev", dnsfixture.DSRecord)
		r := delegate(t, srv, "--yes")
		if r.code == 0 || srv.Calls("updateNs") != 0 || !kdns.SameNameServers(srv.NameServers("kforge.dev"), dnsfixture.PorkbunNS) {
			t.Fatalf("exit %d updateNs=%d ns=%v\n%s%s", r.code, srv.Calls("updateNs"), srv.NameServers("kforge.dev"), r.stdout, r.stderr)
		}
		for _, want := range []string{"refusing to delegate kforge.dev", "key tag 2371", "not signed"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
	})
	t.Run("dry run: no change", func(t *testing.T) {
		srv := startPorkbun(t, dnsfixture.PorkbunNS)
		r := delegate(t, srv, "--dry-run", "--yes")
		if r.code != 0 || srv.Calls("updateNs") != 0 || !kdns.SameNameServers(srv.NameServers("kforge.dev"), dnsfixture.PorkbunNS) {
			t.Fatalf("exit %d updateNs=%d ns=%v\n%s%s", r.code, srv.Calls("updateNs"), srv.NameServers("kforge.dev"), r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "Dry run: nothing changed") || !strings.Contains(r.stdout, "+  ns-512.awsdns-00.net") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
	})
	t.Run("no --yes on a non-terminal: refuses, no change", func(t *testing.T) {
		srv := startPorkbun(t, dnsfixture.PorkbunNS)
		r := delegate(t, srv)
		if r.code != ExitUsage || srv.Calls("updateNs") != 0 || !strings.Contains(r.stderr, "--yes") {
			t.Fatalf("exit %d updateNs=%d\n%s%s", r.code, srv.Calls("updateNs"), r.stdout, r.stderr)
		}
	})
	t.Run("json output", func(t *testing.T) {
		srv := startPorkbun(t, dnsfixture.PorkbunNS)
		r := delegate(t, srv, "--yes", "-o", "json")
		var res cluster.DelegateResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
		}
		if !res.Changed || res.InSync || len(res.Plan.Diff.Add) != 4 || len(res.Plan.Diff.Remove) != 4 {
			t.Fatalf("result = %+v", res)
		}
	})
	userRecords := append(porkbuntest.ParkingRecords("kforge.dev"),
		porkbuntest.Record{Name: "kforge.dev", Type: "MX", Content: "mx1.mail.example.net", TTL: "600", Prio: "10"},
		porkbuntest.Record{Name: "www.kforge.dev", Type: "A", Content: "203.0.113.7", TTL: "600"})
	t.Run("records at Porkbun's DNS: listed, refused with exit 2, no change", func(t *testing.T) {
		srv := startPorkbun(t, dnsfixture.PorkbunNS)
		srv.SetRecords("kforge.dev", userRecords...)
		r := delegate(t, srv, "--yes")
		if r.code != ExitUsage || srv.Calls("updateNs") != 0 || !kdns.SameNameServers(srv.NameServers("kforge.dev"), dnsfixture.PorkbunNS) {
			t.Fatalf("exit %d updateNs=%d ns=%v\n%s%s", r.code, srv.Calls("updateNs"), srv.NameServers("kforge.dev"), r.stdout, r.stderr)
		}
		t.Log("\n" + r.stdout + r.stderr)
		for _, want := range []string{"Records Porkbun serves for kforge.dev now, which stop resolving after the change", "-  kforge.dev      MX    10 mx1.mail.example.net", "-  www.kforge.dev  A     203.0.113.7"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "pixie.porkbun.com") {
			t.Errorf("the parking defaults are listed:\n%s", r.stdout)
		}
		for _, want := range []string{"refusing to delegate kforge.dev", "Porkbun serves 2 records", "cluster's Route 53 zone", "--discard-records", "changed nothing"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
	})
	t.Run("records at Porkbun's DNS, --discard-records: updates", func(t *testing.T) {
		srv := startPorkbun(t, dnsfixture.PorkbunNS)
		srv.SetRecords("kforge.dev", userRecords...)
		r := delegate(t, srv, "--yes", "--discard-records")
		if r.code != 0 || srv.Calls("updateNs") != 1 || !kdns.SameNameServers(srv.NameServers("kforge.dev"), dnsfixture.ZoneNS) {
			t.Fatalf("exit %d updateNs=%d\n%s%s", r.code, srv.Calls("updateNs"), r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "www.kforge.dev") || !strings.Contains(r.stdout, "Updated: Porkbun now delegates kforge.dev") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
	})
	t.Run("records at Porkbun's DNS, dry run: listed, exit 0, JSON too", func(t *testing.T) {
		srv := startPorkbun(t, dnsfixture.PorkbunNS)
		srv.SetRecords("kforge.dev", userRecords...)
		r := delegate(t, srv, "--dry-run")
		if r.code != 0 || srv.Calls("updateNs") != 0 || !strings.Contains(r.stdout, "www.kforge.dev") || !strings.Contains(r.stdout, "--discard-records") {
			t.Fatalf("exit %d updateNs=%d\n%s%s", r.code, srv.Calls("updateNs"), r.stdout, r.stderr)
		}
		r = delegate(t, srv, "--dry-run", "-o", "json")
		var res cluster.DelegateResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
		}
		want := []kdns.Record{{Name: "kforge.dev", Type: "MX", Content: "10 mx1.mail.example.net", TTL: 600}, {Name: "www.kforge.dev", Type: "A", Content: "203.0.113.7", TTL: 600}}
		if r.code != 0 || !slices.Equal(res.Plan.DroppedRecords, want) || res.Plan.DiscardRecords {
			t.Fatalf("exit %d, plan %+v", r.code, res.Plan)
		}
		if !strings.Contains(r.stdout, `"dropped_records": [`) {
			t.Errorf("JSON lacks dropped_records:\n%s", r.stdout)
		}
	})
	t.Run("records at Porkbun's DNS, already delegated: nothing to change", func(t *testing.T) {
		srv := startPorkbun(t, dnsfixture.ZoneNS)
		srv.SetRecords("kforge.dev", userRecords...)
		r := delegate(t, srv, "--yes")
		if r.code != 0 || !strings.Contains(r.stdout, "nothing to change") || srv.Calls("retrieve") != 0 {
			t.Fatalf("exit %d retrieve=%d\n%s%s", r.code, srv.Calls("retrieve"), r.stdout, r.stderr)
		}
	})
	t.Run("Porkbun's rate limit: requests paced, no refusal", func(t *testing.T) {
		for _, how := range []porkbuntest.RateLimit{porkbuntest.Limit503, porkbuntest.LimitWAF} {
			srv := startPorkbun(t, dnsfixture.PorkbunNS)
			// Refuses requests closer than 10 ms; the client keeps 60 ms.
			srv.LimitRate(10*time.Millisecond, how)
			deps := porkbunDeps(srv, outputs)
			deps.PorkbunOptions.MinInterval = 60 * time.Millisecond
			r := delegateWith(t, deps, "--yes")
			if r.code != 0 || srv.Limited() != 0 || !kdns.SameNameServers(srv.NameServers("kforge.dev"), dnsfixture.ZoneNS) {
				t.Fatalf("limit %d: exit %d, %d requests refused\n%s%s", how, r.code, srv.Limited(), r.stdout, r.stderr)
			}
			if n := len(srv.RequestTimes()); n != 6 {
				t.Errorf("limit %d: %d requests, want 6 (getNs, getDnssecRecords, retrieve, getDnssecRecords, updateNs, getNs)", how, n)
			}
		}
	})
	t.Run("wrong keys: Porkbun's message, exit 1, keys not shown", func(t *testing.T) {
		srv := porkbuntest.Start(t, "pk1_other", "sk1_other", map[string][]string{"kforge.dev": dnsfixture.PorkbunNS})
		r := delegate(t, srv, "--yes")
		if r.code != ExitFailure || srv.Calls("getNs") != 1 || !strings.Contains(r.stderr, "Invalid API key. (002)") {
			t.Fatalf("exit %d getNs=%d\n%s%s", r.code, srv.Calls("getNs"), r.stdout, r.stderr)
		}
	})
	t.Run("emulated zone is never sent to the real Porkbun", func(t *testing.T) {
		srv := startPorkbun(t, dnsfixture.PorkbunNS)
		deps := porkbunDeps(srv, cluster.Outputs{NameServers: dnsfixture.ZoneNS, Emulated: true})
		env := map[string]string{porkbun.EnvAPIKey: dnsTestKey, porkbun.EnvSecretAPIKey: dnsTestSecret}
		deps.Getenv = func(k string) string { return env[k] }
		r := delegateWith(t, deps, "--yes")
		if r.code != ExitUsage || !strings.Contains(r.stderr, "emulator") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	for _, s := range all {
		for _, k := range []string{dnsTestKey, dnsTestSecret, "CMDLEAK"} {
			if strings.Contains(s, k) {
				t.Errorf("a Porkbun key appears in the output:\n%s", s)
			}
		}
	}
}

func TestDNSDelegateInputErrors(t *testing.T) {
	outputsCalled := false
	deps := dnsDeps{
		Outputs: func(context.Context, *Env) (*cluster.Outputs, error) {
			outputsCalled = true
			return &cluster.Outputs{NameServers: dnsfixture.ZoneNS}, nil
		},
		Getenv: func(k string) string {
			return map[string]string{porkbun.EnvAPIKey: dnsTestKey, porkbun.EnvSecretAPIKey: dnsTestSecret, porkbun.EnvAPIURL: "http://127.0.0.1:1"}[k]
		},
	}
	tests := []struct {
		name   string
		yaml   string
		getenv func(string) string
		args   []string
		wantIn string
	}{
		{name: "porkbun with a subdomain", yaml: "dns:\n  domain: dev.kforge.dev\n  registrar: porkbun",
			wantIn: "dev.kforge.dev is a subdomain of kforge.dev"},
		{name: "subdomain on an emulator env: rejected before the emulator is needed", yaml: "emulator: true\namiID: ami-760aaa0f\ndns:\n  domain: dev.kforge.dev\n  registrar: porkbun",
			wantIn: "dev.kforge.dev is a subdomain of kforge.dev"},
		{name: "porkbun without keys", yaml: porkbunEnvYAML, getenv: func(string) string { return "" },
			wantIn: "PORKBUN_API_KEY and PORKBUN_SECRET_API_KEY not set"},
		{name: "bad API URL", yaml: porkbunEnvYAML, getenv: func(k string) string {
			return map[string]string{porkbun.EnvAPIKey: "a", porkbun.EnvSecretAPIKey: "b", porkbun.EnvAPIURL: "ftp://x"}[k]
		}, wantIn: "PORKBUN_API_URL"},
		{name: "no environment argument", yaml: porkbunEnvYAML, args: []string{"dns", "delegate"}, wantIn: "one environment name"},
		{name: "bad resolver", yaml: porkbunEnvYAML, args: []string{"dns", "check", "dnstest", "--resolver", "nohost"}, wantIn: "not host:port"},
		{name: "invalid config", yaml: "dns:\n  domain: kforge.dev\n  registrar: porkbunn", wantIn: "dns.registrar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outputsCalled = false
			d := deps
			if tt.getenv != nil {
				d.Getenv = tt.getenv
			}
			args := tt.args
			if args == nil {
				args = []string{"dns", "delegate", "dnstest", "--yes"}
			}
			r := runDNS(t, writeDNSEnv(t, tt.yaml), d, args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tt.wantIn) {
				t.Fatalf("exit %d, want 2 with %q\n%s%s", r.code, tt.wantIn, r.stdout, r.stderr)
			}
			if outputsCalled {
				t.Error("the Terraform outputs (a cloud call) were read despite bad input")
			}
		})
	}
}

func TestDNSDelegateNone(t *testing.T) {
	for _, tt := range []struct{ domain, want string }{
		{"kforge.dev", "Set the name servers of kforge.dev at its registrar to:\n  ns-0.awsdns-00.com\n"},
		{"dev.kforge.dev", "Create these records in the zone of kforge.dev (at its DNS host):\n  dev.kforge.dev. 300 IN NS ns-0.awsdns-00.com.\n"},
	} {
		envs := writeDNSEnv(t, "dns:\n  domain: "+tt.domain+"\n  registrar: none")
		r := runDNS(t, envs, dnsDeps{Outputs: fakeOutputs(cluster.Outputs{NameServers: dnsfixture.ZoneNS}), Getenv: func(string) string { return "" }}, "dns", "delegate", "dnstest")
		if r.code != 0 || !strings.Contains(r.stdout, tt.want) || !strings.Contains(r.stdout, "kforge changed nothing") {
			t.Errorf("%s: exit %d\n%s%s", tt.domain, r.code, r.stdout, r.stderr)
		}
	}
}

// TestDNSDelegateRoute53Parent delegates dev.kforge.dev in a kforge.dev zone
// of the emulator, then checks a second run changes nothing.
func TestDNSDelegateRoute53Parent(t *testing.T) {
	cfg, emu := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	r53 := route53.NewFromConfig(cfg)
	// Real Route 53 zone ids start with Z and the config insists on it; the
	// emulator draws ids from [0-9A-Z], so create zones until one starts with Z.
	parentID := ""
	for i := 0; i < 500 && parentID == ""; i++ {
		z, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("kforge.dev"), CallerReference: aws.String(fmt.Sprintf("%s-%d", t.Name(), i))})
		if err != nil {
			t.Fatal(err)
		}
		if id := strings.TrimPrefix(aws.ToString(z.HostedZone.Id), "/hostedzone/"); strings.HasPrefix(id, "Z") {
			parentID = id
		}
	}
	if parentID == "" {
		t.Fatal("the emulator gave no zone id starting with Z in 500 tries")
	}
	envs := writeDNSEnv(t, "dns:\n  domain: dev.kforge.dev\n  registrar: route53\n  parentZoneID: "+parentID)
	deps := dnsDeps{Outputs: fakeOutputs(cluster.Outputs{NameServers: dnsfixture.ZoneNS, Emulated: true}), Getenv: func(string) string { return "" }}

	r := runDNS(t, envs, deps, "--endpoint", emu.URL(), "dns", "delegate", "dnstest", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "Updated: Route 53 parent zone "+parentID+" now delegates dev.kforge.dev") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out, err := r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(parentID), StartRecordName: aws.String("dev.kforge.dev."), StartRecordType: "NS"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rrs := range out.ResourceRecordSets {
		if aws.ToString(rrs.Name) == "dev.kforge.dev." && rrs.Type == "NS" {
			for _, rr := range rrs.ResourceRecords {
				got = append(got, aws.ToString(rr.Value))
			}
		}
	}
	if !kdns.SameNameServers(got, dnsfixture.ZoneNS) {
		t.Fatalf("parent zone NS record = %v", got)
	}

	r = runDNS(t, envs, deps, "--endpoint", emu.URL(), "dns", "delegate", "dnstest")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to change") {
		t.Fatalf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDNSCheck(t *testing.T) {
	envs := writeDNSEnv(t, "dns:\n  domain: dev.kforge.dev\n  registrar: none")
	deps := dnsDeps{Outputs: fakeOutputs(cluster.Outputs{NameServers: dnsfixture.ZoneNS, NLBDNSName: dnsTestNLB}), Getenv: func(string) string { return "" }}

	t.Run("expected NS set: propagated", func(t *testing.T) {
		srv := checktest.Start(t)
		srv.SetNS("dev.kforge.dev", dnsfixture.ZoneNS...)
		srv.SetA("dev.kforge.dev", dnsNLBIPs...)
		srv.SetA(dnsTestNLB, dnsNLBIPs...)
		r := runDNS(t, envs, deps, "dns", "check", "dnstest", "--resolver", srv.Addr())
		if r.code != 0 || !strings.Contains(r.stdout, "Propagated: dev.kforge.dev resolves through the cluster's zone") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("wrong NS set: exit 1", func(t *testing.T) {
		srv := checktest.Start(t)
		srv.SetNS("dev.kforge.dev", dnsfixture.PorkbunNS...)
		srv.SetA(dnsTestNLB, dnsNLBIPs...)
		r := runDNS(t, envs, deps, "dns", "check", "dnstest", "--resolver", srv.Addr(), "-o", "json")
		if r.code != ExitFailure {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		var rep struct {
			Propagated   bool     `json:"propagated"`
			NSPropagated bool     `json:"ns_propagated"`
			NameServers  []string `json:"name_servers"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
		}
		if rep.Propagated || rep.NSPropagated || !kdns.SameNameServers(rep.NameServers, dnsfixture.PorkbunNS) {
			t.Fatalf("report = %+v", rep)
		}
	})
	t.Run("--wait sees the change", func(t *testing.T) {
		srv := checktest.Start(t)
		srv.SetNS("dev.kforge.dev", dnsfixture.PorkbunNS...)
		srv.SetA("dev.kforge.dev", dnsNLBIPs...)
		srv.SetA(dnsTestNLB, dnsNLBIPs...)
		go func() {
			for srv.Queries() < 6 { // two rounds of three questions
				time.Sleep(5 * time.Millisecond)
			}
			srv.SetNS("dev.kforge.dev", dnsfixture.ZoneNS...)
		}()
		r := runDNS(t, envs, deps, "dns", "check", "dnstest", "--resolver", srv.Addr(), "--wait", "30s", "--interval", "20ms")
		if r.code != 0 || !strings.Contains(r.stderr, "not yet: NS are curitiba.ns.porkbun.com") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("--wait times out", func(t *testing.T) {
		srv := checktest.Start(t)
		srv.SetNS("dev.kforge.dev", dnsfixture.PorkbunNS...)
		r := runDNS(t, envs, deps, "dns", "check", "dnstest", "--resolver", srv.Addr(), "--wait", "150ms", "--interval", "20ms")
		if r.code != ExitFailure || !strings.Contains(r.stderr, "is not ready yet") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

func TestDelegationNextStep(t *testing.T) {
	envs := writeDNSEnv(t, porkbunEnvYAML)
	app := &App{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Output: "text", EnvsDir: envs, WorkDir: t.TempDir()}
	e, err := app.OpenEnv(context.Background(), "dnstest")
	if err != nil {
		t.Fatal(err)
	}
	out := &cluster.Outputs{NameServers: dnsfixture.ZoneNS}

	srv := startPorkbun(t, dnsfixture.PorkbunNS)
	var w bytes.Buffer
	if cluster.DelegationNextStep(context.Background(), e, out, &w, porkbunDeps(srv, *out)) {
		t.Fatal("reported delegated while Porkbun points elsewhere")
	}
	if !strings.Contains(w.String(), "Next step: kforge dns delegate dnstest") || srv.Calls("updateNs") != 0 {
		t.Fatalf("output %q, updateNs=%d", w.String(), srv.Calls("updateNs"))
	}

	srv2 := startPorkbun(t, dnsfixture.ZoneNS)
	w.Reset()
	if !cluster.DelegationNextStep(context.Background(), e, out, &w, porkbunDeps(srv2, *out)) || !strings.Contains(w.String(), "already delegates kforge.dev") {
		t.Fatalf("in sync: %q", w.String())
	}

	w.Reset()
	noKeys := porkbunDeps(srv2, *out)
	noKeys.Getenv = func(string) string { return "" }
	if cluster.DelegationNextStep(context.Background(), e, out, &w, noKeys) || !strings.Contains(w.String(), "PORKBUN_API_KEY") {
		t.Fatalf("without keys: %q", w.String())
	}
}
