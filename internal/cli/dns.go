package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/config"
	kdns "github.com/kforge/kforge/internal/dns"
	"github.com/kforge/kforge/internal/dns/check"
)

// dnsDeps are the dns commands' links to the outside, replaceable in tests.
type dnsDeps = cluster.DNSDeps

func newDNSCmd(app *App) *cobra.Command { return newDNSCmdWith(app, cluster.DefaultDNSDeps()) }

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

func newDNSDelegateCmd(app *App, deps dnsDeps) *cobra.Command {
	var dryRun, discardRecords bool
	cmd := &cobra.Command{
		Use:   "delegate <env>",
		Short: "Point the registrar (or the parent zone) at the cluster zone's name servers, when they differ",
		Long: `Reads the zone's name servers from the Terraform outputs and the ones the
registrar (or parent zone) publishes now, prints the difference, and updates
only when they differ. --dry-run shows the change without making it; the
update asks for confirmation unless --yes. Records the registrar's DNS (or
the parent zone) serves for the domain now would stop resolving: they are
listed, and the update refused (exit code 2) unless --discard-records.`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := app.OpenEnvChecked(ctx, args[0], func(cfg *config.Cluster) error { return cluster.CheckDelegationInput(cfg, args[0], deps) })
			if err != nil {
				return err
			}
			opts := cluster.DelegateOptions{DryRun: dryRun, DiscardRecords: discardRecords, Deps: deps}
			if !app.JSON() {
				opts.Show = app.printDelegationPlan
			}
			res, err := cluster.RunDelegate(ctx, e, opts)
			if err != nil {
				return err
			}
			if app.JSON() {
				return app.PrintJSON(res)
			}
			if res.Manual {
				cluster.WriteManualDelegation(app.Stdout, res.Plan.Domain, res.Plan.Wanted)
			}
			app.Printf("\n%s\n", res.Outcome())
			if res.Changed {
				app.Notef("Resolvers follow within the NS TTL (up to 48 hours at some TLDs). Follow it with: kforge dns check %s --wait 30m\n", e.Name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the change without making it")
	cmd.Flags().BoolVar(&discardRecords, "discard-records", false, "delegate although the records served for the domain now stop resolving")
	return cmd
}

func (app *App) printDelegationPlan(p kdns.Plan) {
	app.Printf("Domain:       %s\nDelegated at: %s\n\n", p.Domain, p.Target)
	app.Table(p.Rows())
	if rows := p.RecordRows(); rows != nil {
		app.Printf("\nRecords %s serves for %s now, which stop resolving after the change:\n\n", p.Target, p.Domain)
		app.Table(rows)
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
		Short: "Report whether the domain's NS records and apex address have propagated and CAA allows Let's Encrypt",
		Long: `Asks a resolver (--resolver host:port, default the system's first
nameserver) for the domain's NS records and compares them with the zone's
name servers, case, order and trailing dots aside; then resolves the apex
and the NLB's DNS name and checks the apex answers with the NLB's addresses,
and that CAA lets Let's Encrypt issue for the domain. --wait polls until
all three hold or the time passes. Exit code 0 when ready, 1 when not.`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			o := cluster.DNSCheckOptions{Resolver: resolver, Wait: wait, Interval: interval, Deps: deps}
			if err := o.Check(); err != nil {
				return err
			}
			e, err := app.OpenEnv(ctx, args[0])
			if err != nil {
				return err
			}
			rep, err := cluster.RunDNSCheck(ctx, e, o)
			if err != nil {
				return err
			}
			if err := app.report(rep, nil, func() { app.printCheck(rep) }); err != nil {
				return err
			}
			if !rep.Propagated {
				return &ExitError{Code: ExitFailure, Silent: app.JSON(), Err: fmt.Errorf("%s is not ready yet (resolver %s): %s", rep.Domain, rep.Resolver, rep.Summary())}
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
	app.Printf("Resolver: %s\n\n", r.Resolver)
	app.Table(r.Rows())
	if r.Propagated {
		app.Printf("\nPropagated: %s resolves through the cluster's zone.\n", r.Domain)
	}
}
