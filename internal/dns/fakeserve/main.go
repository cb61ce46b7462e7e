// Command fakeserve runs kforge's DNS test servers outside the Go tests, for
// demonstrations and CI scripts: a fake Porkbun API v3 (getNs/updateNs, and
// getDnssecRecords answering the DS records given with -ds) and a
// DNS server whose NS answers for the fake registrar's domains follow what
// the registrar holds, the way a TLD follows its registrars. It is a test
// double: it proves kforge against the documented contract, not against
// Porkbun or the real DNS.
//
//	PORKBUN_API_KEY=pk1_x PORKBUN_SECRET_API_KEY=sk1_x go run ./internal/dns/fakeserve \
//	  -domain kforge.dev=curitiba.ns.porkbun.com,fortaleza.ns.porkbun.com \
//	  -a kforge.dev=203.0.113.10 -env-file /tmp/fake.env
//
// -ds kforge.dev=2371:13:2:E2D3C916... gives the domain DS records (key tag,
// algorithm, digest type, digest; several separated by commas), to see
// `kforge dns delegate` refuse. They are only data the fake reports; nothing
// is signed or validated.
//
// It prints (and writes to -env-file) PORKBUN_API_URL=... and
// KFORGE_TEST_RESOLVER=host:port, then serves until interrupted.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kforge/kforge/internal/dns/check/checktest"
	"github.com/kforge/kforge/internal/dns/porkbun"
	"github.com/kforge/kforge/internal/dns/porkbun/porkbuntest"
)

// pairs collects repeated name=v1,v2 flags.
type pairs map[string][]string

func (p pairs) String() string { return fmt.Sprint(map[string][]string(p)) }
func (p pairs) Set(s string) error {
	name, values, ok := strings.Cut(s, "=")
	if !ok || name == "" || values == "" {
		return fmt.Errorf("%q is not name=value,value", s)
	}
	p[strings.ToLower(strings.TrimSuffix(name, "."))] = strings.Split(values, ",")
	return nil
}

func main() {
	domains, addrs, ds := pairs{}, pairs{}, pairs{}
	flag.Var(domains, "domain", "a domain registered at the fake Porkbun and its initial name servers: name=ns1,ns2 (repeatable)")
	flag.Var(addrs, "a", "A records the DNS server answers: name=ip1,ip2 (repeatable)")
	flag.Var(ds, "ds", "DS records the fake Porkbun reports for a domain: name=keytag:alg:digesttype:digest,... (repeatable)")
	dnsAddr := flag.String("dns-listen", "127.0.0.1:0", "UDP address of the DNS server")
	envFile := flag.String("env-file", "", "also write the addresses to this file as KEY=value lines")
	flag.Parse()

	key, secret := os.Getenv(porkbun.EnvAPIKey), os.Getenv(porkbun.EnvSecretAPIKey)
	if key == "" || secret == "" {
		fmt.Fprintf(os.Stderr, "fakeserve: set %s and %s: the fake accepts only that pair\n", porkbun.EnvAPIKey, porkbun.EnvSecretAPIKey)
		os.Exit(2)
	}
	api := porkbuntest.New(key, secret, domains)
	defer api.Close()
	for name, specs := range ds {
		var recs []porkbuntest.DSRecord
		for _, spec := range specs {
			f := strings.Split(spec, ":")
			if len(f) != 4 || f[0] == "" || f[3] == "" {
				fmt.Fprintf(os.Stderr, "fakeserve: -ds %s: %q is not keytag:alg:digesttype:digest\n", name, spec)
				os.Exit(2)
			}
			recs = append(recs, porkbuntest.DSRecord{KeyTag: f[0], Alg: f[1], DigestType: f[2], Digest: f[3]})
		}
		api.SetDSRecords(name, recs...)
	}
	resolver, err := checktest.Listen(*dnsAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeserve:", err)
		os.Exit(1)
	}
	defer resolver.Close()
	resolver.NSFrom(api.NameServers)
	for name, ips := range addrs {
		resolver.SetA(name, ips...)
	}

	lines := fmt.Sprintf("%s=%s\nKFORGE_TEST_RESOLVER=%s\n", porkbun.EnvAPIURL, api.BaseURL(), resolver.Addr())
	fmt.Print(lines)
	if *envFile != "" {
		if err := os.WriteFile(*envFile, []byte(lines), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "fakeserve:", err)
			os.Exit(1)
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	fmt.Fprintf(os.Stderr, "fakeserve: stopping (getNs calls %d, updateNs calls %d, getDnssecRecords calls %d)\n", api.Calls("getNs"), api.Calls("updateNs"), api.Calls("getDnssecRecords"))
}
