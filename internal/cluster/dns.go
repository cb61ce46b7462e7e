package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	kdns "github.com/kforge/kforge/internal/dns"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/dns/check"
	"github.com/kforge/kforge/internal/dns/porkbun"
	"github.com/kforge/kforge/internal/dns/route53parent"
)

// DNSDeps are the dns workflows' links to the outside, replaceable in tests.
type DNSDeps struct {
	// Outputs reads the applied cluster's Terraform outputs.
	Outputs func(ctx context.Context, e *Env) (*Outputs, error)
	// Getenv reads PORKBUN_* variables.
	Getenv func(string) string
	// ResolvConf is where the system resolver is read from.
	ResolvConf string
	// PorkbunOptions tune the Porkbun client (tests shorten retries).
	PorkbunOptions porkbun.Options
}

// DefaultDNSDeps are the real links: the applied outputs, the process
// environment, /etc/resolv.conf.
func DefaultDNSDeps() DNSDeps {
	return DNSDeps{
		Outputs:    func(ctx context.Context, e *Env) (*Outputs, error) { return e.AppliedOutputs(ctx) },
		Getenv:     os.Getenv,
		ResolvConf: check.DefaultResolvConf,
	}
}

// CheckDelegationInput rejects a dns section kforge cannot act on, from the
// configuration alone: it runs before the environment is opened, so no
// emulator is needed and no cloud call is made.
func CheckDelegationInput(cfg *config.Cluster, envName string, deps DNSDeps) error {
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
		if _, err := porkbun.NewFromEnv(deps.Getenv, deps.PorkbunOptions); err != nil {
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
func delegationTarget(ctx context.Context, e *Env, deps DNSDeps) (kdns.Registrar, error) {
	if err := CheckDelegationInput(e.Config, e.Name, deps); err != nil {
		return nil, err
	}
	d := e.Config.DNS
	switch d.Registrar {
	case "porkbun":
		return porkbun.NewFromEnv(deps.Getenv, deps.PorkbunOptions)
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
func guardEmulatedZone(e *Env, out *Outputs, deps DNSDeps) error {
	if (out.Emulated || e.Emulated()) && e.Config.DNS.Registrar == "porkbun" && strings.TrimSpace(deps.Getenv(porkbun.EnvAPIURL)) == "" {
		return UsageError("environment %q runs on an AWS emulator: its zone's name servers do not exist, and delegating %s to them at the real Porkbun would take the domain offline. "+
			"Point %s at a test server, or use dns.registrar: none", e.Name, e.Config.DNS.Domain, porkbun.EnvAPIURL)
	}
	return nil
}

// DelegateResult is what RunDelegate found and did.
type DelegateResult struct {
	Environment string    `json:"environment"`
	Registrar   string    `json:"registrar"`
	Plan        kdns.Plan `json:"plan"`
	InSync      bool      `json:"in_sync"`
	DryRun      bool      `json:"dry_run"`
	Changed     bool      `json:"changed"`
	Manual      bool      `json:"manual,omitempty"` // registrar none: records printed for a person to create
}

// Outcome says in a sentence what RunDelegate did, or why it did nothing.
func (r *DelegateResult) Outcome() string {
	p := r.Plan
	switch {
	case r.Manual:
		return fmt.Sprintf("dns.registrar is none: kforge changed nothing. Check propagation with: kforge dns check %s", r.Environment)
	case r.InSync:
		return fmt.Sprintf("%s already delegates %s to the zone: nothing to change.", p.Target, p.Domain)
	case r.DryRun && p.RecordsError() != nil:
		return fmt.Sprintf("Dry run: nothing changed. The records above would stop resolving: copy the ones still needed into the cluster's zone first, or run with %s to apply without them.", kdns.DiscardRecordsFlag)
	case r.DryRun:
		return "Dry run: nothing changed. Run without --dry-run to apply."
	default:
		return fmt.Sprintf("Updated: %s now delegates %s to the zone.", p.Target, p.Domain)
	}
}

// DelegateOptions tune RunDelegate.
type DelegateOptions struct {
	// DryRun shows the change without making it.
	DryRun bool
	// DiscardRecords lets the change drop the records the target serves
	// for the domain now (Plan.DroppedRecords); without it RunDelegate
	// refuses such a change.
	DiscardRecords bool
	// Show, when set, is shown the plan before anything changes.
	Show func(kdns.Plan)
	Deps DNSDeps
}

// RunDelegate points the registrar (or the parent zone) at the zone's name
// servers when they differ, after the UI confirms. With dns.registrar none
// it changes nothing and returns a Manual result.
func RunDelegate(ctx context.Context, e *Env, o DelegateOptions) (*DelegateResult, error) {
	reg, err := delegationTarget(ctx, e, o.Deps)
	if err != nil {
		return nil, err
	}
	out, err := o.Deps.Outputs(ctx, e)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		d := kdns.NormalizeName(e.Config.DNS.Domain)
		ns := kdns.NormalizeSet(out.NameServers)
		return &DelegateResult{Environment: e.Name, Registrar: "none", Manual: true,
			Plan: kdns.Plan{Domain: d, Target: "manual", Wanted: ns, Current: []string{}, Diff: kdns.Compare(nil, ns), DroppedRecords: []kdns.Record{}}}, nil
	}
	if err := guardEmulatedZone(e, out, o.Deps); err != nil {
		return nil, err
	}
	plan, err := kdns.PlanDelegation(ctx, reg, e.Config.DNS.Domain, out.NameServers)
	if err != nil {
		return nil, err
	}
	plan.DiscardRecords = o.DiscardRecords
	res := &DelegateResult{Environment: e.Name, Registrar: e.Config.DNS.Registrar, Plan: plan, InSync: plan.InSync(), DryRun: o.DryRun}
	if o.Show != nil {
		o.Show(plan)
	}
	if plan.InSync() || o.DryRun {
		return res, nil
	}
	if err := plan.RecordsError(); err != nil {
		// The user decides, by copying the records or by the flag: bad
		// input, refused before the confirmation and any change.
		return nil, &ExitError{Code: ExitUsage, Err: err}
	}
	if err := e.opts.UI.Confirm(ctx, fmt.Sprintf("replace the name servers of %s at %s", plan.Domain, plan.Target), "yes"); err != nil {
		return nil, err
	}
	if err := kdns.ApplyDelegation(ctx, reg, plan); err != nil {
		return nil, err
	}
	res.Changed = true
	return res, nil
}

// DNSCheckOptions tune RunDNSCheck.
type DNSCheckOptions struct {
	// Resolver is the DNS server to ask (host:port); empty means the
	// system's first nameserver.
	Resolver string
	// Wait polls until propagated or this much time has passed; 0 checks once.
	Wait, Interval time.Duration
	Deps           DNSDeps
}

// Check refuses bad flags before any cloud call (exit code 2) and
// completes Resolver to host:port (a bare address asks port 53).
func (o *DNSCheckOptions) Check() error {
	if o.Resolver != "" {
		addr, err := check.ParseResolver(o.Resolver)
		if err != nil {
			return UsageError("%v", err)
		}
		o.Resolver = addr
	}
	if o.Wait < 0 || o.Interval <= 0 {
		return UsageError("--wait must be ≥ 0 and --interval > 0")
	}
	return nil
}

// RunDNSCheck reports whether the domain's NS records and apex address
// have propagated. Not propagated is a report, not an error.
func RunDNSCheck(ctx context.Context, e *Env, o DNSCheckOptions) (check.Report, error) {
	addr := o.Resolver
	if addr == "" {
		var err error
		if addr, err = check.SystemResolver(o.Deps.ResolvConf); err != nil {
			return check.Report{}, UsageError("%v", err)
		}
	}
	out, err := o.Deps.Outputs(ctx, e)
	if err != nil {
		return check.Report{}, err
	}
	r := &check.Resolver{Addr: addr}
	want := check.Expected{Domain: e.Config.DNS.Domain, NameServers: out.NameServers, NLBDNSName: out.NLBDNSName}
	if o.Wait <= 0 {
		return check.Check(ctx, r, want), nil
	}
	e.opts.UI.Notef("Waiting up to %s for %s to propagate (resolver %s)...\n", o.Wait, want.Domain, addr)
	rep, err := check.Wait(ctx, r, want, o.Interval, o.Wait, func(r check.Report) {
		if !r.Propagated {
			e.opts.UI.Notef("  %s  not yet: %s\n", time.Now().Format("15:04:05"), r.Summary())
		}
	})
	if err != nil && !errors.Is(err, check.ErrNotPropagated) {
		return rep, err
	}
	return rep, nil
}

// WriteManualDelegation says which records to create where, for a person.
func WriteManualDelegation(w io.Writer, domain string, ns []string) {
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

// DelegationNextStep is for the end of `kforge up`: it says whether the
// registrar (or parent zone) already delegates the domain to the zone and,
// when not, prints the next step to w. It never fails the caller: problems
// reading the registrar become advice. It returns true when delegated.
func DelegationNextStep(ctx context.Context, e *Env, out *Outputs, w io.Writer, deps DNSDeps) bool {
	if out == nil || len(out.NameServers) == 0 {
		return false
	}
	domain := kdns.NormalizeName(e.Config.DNS.Domain)
	if out.Emulated && deps.Getenv(porkbun.EnvAPIURL) == "" && e.Config.DNS.Registrar != "route53" {
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
		WriteManualDelegation(w, domain, kdns.NormalizeSet(out.NameServers))
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	plan, err := kdns.PlanDelegation(ctx, reg, domain, out.NameServers)
	if errors.Is(err, kdns.ErrDSRecords) {
		// The message says what is wrong and what to do; delegating now
		// would break the domain for validating resolvers.
		fmt.Fprintf(w, "DNS: %v\n", err)
		return false
	}
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
	if n := len(plan.DroppedRecords); n > 0 {
		fmt.Fprintf(w, "Note: %s serves %d record(s) for %s that stop resolving after the change; see them with: kforge dns delegate %s --dry-run\n",
			plan.Target, n, domain, e.Name)
	}
	return false
}
