package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/config"
	kdns "github.com/kforge/kforge/internal/dns"
	"github.com/kforge/kforge/internal/dns/check"
	"github.com/kforge/kforge/internal/dns/porkbun"
	"github.com/kforge/kforge/internal/dns/route53parent"
)

// dnsDeps are the dns commands' links to the outside, replaceable in tests.
type dnsDeps struct {
	// outputs reads the applied cluster's Terraform outputs.
	outputs func(ctx context.Context, e *Env) (*cluster.Outputs, error)
	// getenv reads PORKBUN_* variables.
	getenv func(string) string
	// resolvConf is where the system resolver is read from.
	resolvConf string
	// porkbunOptions tune the Porkbun client (tests shorten retries).
	porkbunOptions porkbun.Options
}

func defaultDNSDeps() dnsDeps {
	return dnsDeps{
		outputs:    func(ctx context.Context, e *Env) (*cluster.Outputs, error) { return e.AppliedOutputs(ctx) },
		getenv:     os.Getenv,
		resolvConf: check.DefaultResolvConf,
	}
}

func newDNSCmd(app *App) *cobra.Command { return newDNSCmdWith(app, defaultDNSDeps()) }

func newDNSCmdWith(app *App, deps dnsDeps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dns",
		Short: "Delegate the cluster's domain to its Route 53 zone and check that the delegation has propagated",
		Long: `The cluster's Route 53 zone answers for its domain only once the parent
delegates to it. Where that delegation lives depends on the domain:

  - a registered domain (example.com): its name servers at the registrar
    (dns.registrar: porkbun, with PORKBUN_API_KEY and PORKBUN_SECRET_API_KEY);
  - a subdomain (dev.example.com): an NS record in the parent's zone
    (dns.registrar: route53 with dns.parentZoneID when that zone is in Route 53);
  - dns.registrar: none: kforge prints the records and you create them.`,
	}
	cmd.AddCommand(newDNSDelegateCmd(app, deps), newDNSCheckCmd(app, deps))
	return cmd
}

// checkDelegationInput rejects a dns section kforge cannot act on, from the
// configuration alone: it runs before the environment is opened, so no
// emulator is needed and no cloud call is made.
func checkDelegationInput(cfg *config.Cluster, envName string, deps dnsDeps) error {
	d := cfg.DNS
	switch d.Registrar {
	case "porkbun":
		registered, err := kdns.IsRegisteredDomain(d.Domain)
		if err != nil {
			return UsageError("dns.domain: %v", err)
		}
		if !registered {
			parent, _ := kdns.RegisteredDomain(d.Domain)
			return UsageError("dns.domain %s is a subdomain of %s, and the name servers at Porkbun belong to %s as a whole: changing them would move every name under %s. "+
				"Delegate the subdomain in the zone of %s instead: set dns.registrar: route53 and dns.parentZoneID when that zone is in Route 53, "+
				"or set dns.registrar: none and create the NS records `kforge dns delegate %s` then prints (at Porkbun: DNS records of %s, type NS, host %s)",
				d.Domain, parent, parent, parent, parent, envName, parent, strings.TrimSuffix(kdns.NormalizeName(d.Domain), "."+parent))
		}
		if _, err := porkbun.NewFromEnv(deps.getenv, deps.porkbunOptions); err != nil {
			return UsageError("%v", err)
		}
	case "route53":
		if _, err := route53parent.New(nil, d.ParentZoneID); err != nil {
			return UsageError("%v", err)
		}
	case "none", "":
	default:
		return UsageError("dns.registrar %q is not supported: use porkbun, route53 or none", d.Registrar)
	}
	return nil
}

// delegationTarget builds the Registrar for the environment's config (no
// network call). A nil Registrar with a nil error means registrar none.
func delegationTarget(ctx context.Context, e *Env, deps dnsDeps) (kdns.Registrar, error) {
	if err := checkDelegationInput(e.Config, e.Name, deps); err != nil {
		return nil, err
	}
	d := e.Config.DNS
	switch d.Registrar {
	case "porkbun":
		return porkbun.NewFromEnv(deps.getenv, deps.porkbunOptions)
	case "route53":
		cfg, err := e.AWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		return route53parent.New(awsx.Route53Client(cfg), d.ParentZoneID)
	}
	return nil, nil
}

// guardEmulatedZone refuses to point a real registrar at name servers an
// emulator made up.
func guardEmulatedZone(e *Env, out *cluster.Outputs, deps dnsDeps) error {
	if (out.Emulated || e.Emulated()) && e.Config.DNS.Registrar == "porkbun" && strings.TrimSpace(deps.getenv(porkbun.EnvAPIURL)) == "" {
		return UsageError("environment %q runs on an AWS emulator: its zone's name servers do not exist, and delegating %s to them at the real Porkbun would take the domain offline. "+
			"Point %s at a test server, or use dns.registrar: none", e.Name, e.Config.DNS.Domain, porkbun.EnvAPIURL)
	}
	return nil
}

type delegateResult struct {
	Environment string    `json:"environment"`
	Registrar   string    `json:"registrar"`
	Plan        kdns.Plan `json:"plan"`
	InSync      bool      `json:"in_sync"`
	DryRun      bool      `json:"dry_run"`
	Changed     bool      `json:"changed"`
	Manual      bool      `json:"manual,omitempty"` // registrar none: records printed for a person to create
}

func newDNSDelegateCmd(app *App, deps dnsDeps) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "delegate <env>",
		Short: "Point the registrar (or the parent zone) at the cluster zone's name servers, when they differ",
		Long: `Reads the zone's name servers from the Terraform outputs and the ones the
registrar (or parent zone) publishes now, prints the difference, and updates
only when they differ. --dry-run shows the change without making it; the
update asks for confirmation unless --yes.`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := app.LoadEnv(args[0])
			if err != nil {
				return err
			}
			if err := checkDelegationInput(cfg, args[0], deps); err != nil {
				return err
			}
			e, err := app.OpenEnv(ctx, args[0])
			if err != nil {
				return err
			}
			reg, err := delegationTarget(ctx, e, deps)
			if err != nil {
				return err
			}
			out, err := deps.outputs(ctx, e)
			if err != nil {
				return err
			}
			if reg == nil {
				return app.printManualDelegation(e, out)
			}
			if err := guardEmulatedZone(e, out, deps); err != nil {
				return err
			}
			plan, err := kdns.PlanDelegation(ctx, reg, e.Config.DNS.Domain, out.NameServers)
			if err != nil {
				return err
			}
			res := delegateResult{Environment: e.Name, Registrar: e.Config.DNS.Registrar, Plan: plan, InSync: plan.InSync(), DryRun: dryRun}
			if !app.JSON() {
				app.printDelegationPlan(plan)
			}
			switch {
			case plan.InSync():
				if !app.JSON() {
					app.Printf("\n%s already delegates %s to the zone: nothing to change.\n", plan.Target, plan.Domain)
				}
			case dryRun:
				if !app.JSON() {
					app.Printf("\nDry run: nothing changed. Run without --dry-run to apply.\n")
				}
			default:
				if err := app.Confirm(fmt.Sprintf("replace the name servers of %s at %s", plan.Domain, plan.Target), "yes"); err != nil {
					return err
				}
				if err := kdns.ApplyDelegation(ctx, reg, plan); err != nil {
					return err
				}
				res.Changed = true
				if !app.JSON() {
					app.Printf("\nUpdated: %s now delegates %s to the zone.\n", plan.Target, plan.Domain)
					app.Notef("Resolvers follow within the NS TTL (up to 48 hours at some TLDs). Follow it with: kforge dns check %s --wait 30m\n", e.Name)
				}
			}
			if app.JSON() {
				return app.PrintJSON(res)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the change without making it")
	return cmd
}

func (app *App) printDelegationPlan(p kdns.Plan) {
	app.Printf("Domain:       %s\nDelegated at: %s\n\n", p.Domain, p.Target)
	rows := [][]string{{"", "NAME SERVER", ""}}
	for _, ns := range p.Diff.Keep {
		rows = append(rows, []string{" ", ns, "(kept)"})
	}
	for _, ns := range p.Diff.Remove {
		rows = append(rows, []string{"-", ns, "(at " + p.Target + " now, not in the zone)"})
	}
	for _, ns := range p.Diff.Add {
		rows = append(rows, []string{"+", ns, "(zone name server)"})
	}
	app.Table(rows)
}

// printManualDelegation is registrar none: say which records to create where.
func (app *App) printManualDelegation(e *Env, out *cluster.Outputs) error {
	d := kdns.NormalizeName(e.Config.DNS.Domain)
	ns := kdns.NormalizeSet(out.NameServers)
	if app.JSON() {
		return app.PrintJSON(delegateResult{Environment: e.Name, Registrar: "none", Manual: true,
			Plan: kdns.Plan{Domain: d, Target: "manual", Wanted: ns, Current: []string{}, Diff: kdns.Compare(nil, ns)}})
	}
	writeManualDelegation(app.Stdout, d, ns)
	app.Printf("\ndns.registrar is none: kforge changed nothing. Check propagation with: kforge dns check %s\n", e.Name)
	return nil
}

func writeManualDelegation(w io.Writer, domain string, ns []string) {
	registered, _ := kdns.IsRegisteredDomain(domain)
	if registered {
		fmt.Fprintf(w, "Set the name servers of %s at its registrar to:\n", domain)
		for _, n := range ns {
			fmt.Fprintf(w, "  %s\n", n)
		}
		return
	}
	parent := kdns.ParentDomain(domain)
	fmt.Fprintf(w, "Create these records in the zone of %s (at its DNS host):\n", parent)
	for _, n := range ns {
		fmt.Fprintf(w, "  %s. 300 IN NS %s.\n", domain, n)
	}
}

func newDNSCheckCmd(app *App, deps dnsDeps) *cobra.Command {
	var (
		resolver string
		wait     time.Duration
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check <env>",
		Short: "Report whether the domain's NS records and apex address have propagated",
		Long: `Asks a resolver (--resolver host:port, default the system's first
nameserver) for the domain's NS records and compares them with the zone's
name servers, case, order and trailing dots aside; then resolves the apex
and the NLB's DNS name and checks the apex answers with the NLB's addresses.
--wait polls until both hold or the time passes. Exit code 0 when
propagated, 1 when not.`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			addr := ""
			var err error
			if cmd.Flags().Changed("resolver") {
				if addr, err = check.ParseResolver(resolver); err != nil {
					return UsageError("%v", err)
				}
			}
			if wait < 0 || interval <= 0 {
				return UsageError("--wait must be ≥ 0 and --interval > 0")
			}
			e, err := app.OpenEnv(ctx, args[0])
			if err != nil {
				return err
			}
			if addr == "" {
				if addr, err = check.SystemResolver(deps.resolvConf); err != nil {
					return UsageError("%v", err)
				}
			}
			out, err := deps.outputs(ctx, e)
			if err != nil {
				return err
			}
			r := &check.Resolver{Addr: addr}
			want := check.Expected{Domain: e.Config.DNS.Domain, NameServers: out.NameServers, NLBDNSName: out.NLBDNSName}
			var rep check.Report
			if wait > 0 {
				app.Notef("Waiting up to %s for %s to propagate (resolver %s)...\n", wait, want.Domain, addr)
				rep, err = check.Wait(ctx, r, want, interval, wait, func(r check.Report) {
					if !r.Propagated {
						app.Notef("  %s  not yet: %s\n", time.Now().Format("15:04:05"), r.Summary())
					}
				})
				if err != nil && !errors.Is(err, check.ErrNotPropagated) {
					return err
				}
			} else {
				rep = check.Check(ctx, r, want)
			}
			if app.JSON() {
				if err := app.PrintJSON(rep); err != nil {
					return err
				}
			} else {
				app.printCheck(rep)
			}
			if !rep.Propagated {
				return &ExitError{Code: ExitFailure, Silent: app.JSON(), Err: fmt.Errorf("%s has not propagated yet (resolver %s): %s", rep.Domain, rep.Resolver, rep.Summary())}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&resolver, "resolver", "", "DNS server to ask, host:port (default: the first nameserver in /etc/resolv.conf)")
	f.DurationVar(&wait, "wait", 0, "poll until propagated or this much time has passed, for example 10m (0: check once)")
	f.DurationVar(&interval, "interval", 10*time.Second, "time between checks with --wait")
	return cmd
}

func (app *App) printCheck(r check.Report) {
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	rows := [][]string{
		{"CHECK", "OK", "DETAIL"},
		{"NS " + r.Domain, yes(r.NSPropagated), nsDetail(r)},
	}
	if r.ApexChecked {
		detail := "apex " + orNone(r.ApexAddrs) + "; NLB " + r.NLBDNSName + " " + orNone(r.NLBAddrs)
		if r.ApexError != "" {
			detail = r.ApexError
		}
		rows = append(rows, []string{"A " + r.Domain, yes(r.ApexPropagated), detail})
	}
	app.Printf("Resolver: %s\n\n", r.Resolver)
	app.Table(rows)
	if r.Propagated {
		app.Printf("\nPropagated: %s resolves through the cluster's zone.\n", r.Domain)
	}
}

func nsDetail(r check.Report) string {
	if r.NSError != "" {
		return r.NSError
	}
	if r.NSPropagated {
		return strings.Join(r.NameServers, " ")
	}
	return "resolver: " + orNone(r.NameServers) + "; zone: " + strings.Join(r.WantNameServers, " ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, " ")
}

// DelegationNextStep is for the end of `kforge up`: it says whether the
// registrar (or parent zone) already delegates the domain to the zone and,
// when not, prints the next step to w. It never fails the caller: problems
// reading the registrar become advice. It returns true when delegated.
func (app *App) DelegationNextStep(ctx context.Context, e *Env, out *cluster.Outputs, w io.Writer) bool {
	return delegationNextStep(ctx, e, out, w, defaultDNSDeps())
}

func delegationNextStep(ctx context.Context, e *Env, out *cluster.Outputs, w io.Writer, deps dnsDeps) bool {
	if out == nil || len(out.NameServers) == 0 {
		return false
	}
	domain := kdns.NormalizeName(e.Config.DNS.Domain)
	if out.Emulated && deps.getenv(porkbun.EnvAPIURL) == "" && e.Config.DNS.Registrar != "route53" {
		fmt.Fprintf(w, "DNS: the zone of %s lives in the emulator; no registrar is involved.\n", domain)
		return false
	}
	reg, err := delegationTarget(ctx, e, deps)
	if err != nil {
		fmt.Fprintf(w, "DNS: %s is not delegated by kforge yet: %v\n", domain, err)
		return false
	}
	if reg == nil {
		fmt.Fprintf(w, "DNS: next step, delegate %s to the cluster's zone (dns.registrar is none).\n", domain)
		writeManualDelegation(w, domain, kdns.NormalizeSet(out.NameServers))
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	plan, err := kdns.PlanDelegation(ctx, reg, domain, out.NameServers)
	if err != nil {
		fmt.Fprintf(w, "DNS: could not read the delegation of %s: %v\nNext step: kforge dns delegate %s\n", domain, err, e.Name)
		return false
	}
	if plan.InSync() {
		fmt.Fprintf(w, "DNS: %s already delegates %s to the cluster's zone. Check propagation with: kforge dns check %s\n", plan.Target, domain, e.Name)
		return true
	}
	fmt.Fprintf(w, "DNS: %s does not delegate %s to the cluster's zone yet (%d name servers to add, %d to remove).\nNext step: kforge dns delegate %s\n",
		plan.Target, domain, len(plan.Diff.Add), len(plan.Diff.Remove), e.Name)
	return false
}
