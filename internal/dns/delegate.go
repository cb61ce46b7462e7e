package dns

import (
	"context"
	"fmt"
)

// Plan is what delegating a domain to a hosted zone would change.
type Plan struct {
	Domain  string   `json:"domain"`
	Target  string   `json:"target"`  // Registrar.Describe()
	Current []string `json:"current"` // name servers the target publishes now (normalized)
	Wanted  []string `json:"wanted"`  // name servers of the hosted zone (normalized)
	Diff    Diff     `json:"diff"`
}

// InSync reports whether the target already delegates to the zone.
func (p Plan) InSync() bool { return p.Diff.Empty() }

// PlanDelegation reads the name servers reg publishes for domain and compares
// them with the zone's. It makes no change.
func PlanDelegation(ctx context.Context, reg Registrar, domain string, zoneNameServers []string) (Plan, error) {
	if err := ValidateDomain(domain); err != nil {
		return Plan{}, err
	}
	wanted := NormalizeSet(zoneNameServers)
	if len(wanted) == 0 {
		return Plan{}, fmt.Errorf("the hosted zone of %s has no name servers: run `kforge up` first, or check the Terraform output name_servers", domain)
	}
	current, err := reg.NameServers(ctx, NormalizeName(domain))
	if err != nil {
		return Plan{}, fmt.Errorf("reading the name servers of %s from %s: %w", domain, reg.Describe(), err)
	}
	cur := NormalizeSet(current)
	return Plan{
		Domain:  NormalizeName(domain),
		Target:  reg.Describe(),
		Current: cur,
		Wanted:  wanted,
		Diff:    Compare(cur, wanted),
	}, nil
}

// ApplyDelegation sets the planned name servers when they differ and reads
// them back to confirm. It is a no-op for a plan already in sync.
func ApplyDelegation(ctx context.Context, reg Registrar, p Plan) error {
	if p.InSync() {
		return nil
	}
	if err := reg.SetNameServers(ctx, p.Domain, p.Wanted); err != nil {
		return fmt.Errorf("setting the name servers of %s at %s: %w", p.Domain, p.Target, err)
	}
	got, err := reg.NameServers(ctx, p.Domain)
	if err != nil {
		return fmt.Errorf("reading back the name servers of %s from %s: %w", p.Domain, p.Target, err)
	}
	if !SameNameServers(got, p.Wanted) {
		return fmt.Errorf("%s accepted the update of %s but now reports %v instead of %v", p.Target, p.Domain, NormalizeSet(got), p.Wanted)
	}
	return nil
}

// Rows are the plan as a table a person reads: the name servers kept, to
// remove (-) and to add (+).
func (p Plan) Rows() [][]string {
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
	return rows
}
