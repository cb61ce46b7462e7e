package dns

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrDSRecords marks a delegation refused because the parent still publishes
// DNSSEC DS records for the domain (see DSRecordsError).
var ErrDSRecords = errors.New("the parent publishes DNSSEC DS records for the domain")

// DSRecordsError refuses a delegation while the parent (the registry, through
// the registrar) publishes DS records for the domain. The Route 53 zone kforge
// creates is not signed: with DS records above it, every validating resolver
// (Let's Encrypt's among them) treats the zone's answers as bogus and answers
// SERVFAIL for every name in the domain.
type DSRecordsError struct {
	Domain  string
	Target  string     // Registrar.Describe()
	Records []DSRecord // what the parent publishes
	// Where is where the target's owner removes them, for example
	// "Domain Management → example.com → DNSSEC"; may be empty.
	Where string
	// Delegated: the target already delegates to the zone, so the domain
	// fails validation now rather than after the change.
	Delegated bool
}

func (e *DSRecordsError) Error() string {
	tags := make([]string, 0, len(e.Records))
	for _, r := range e.Records {
		tag := r.KeyTag
		if tag == "" {
			tag = "?"
		}
		tags = append(tags, tag)
	}
	plural := ""
	if len(tags) > 1 {
		plural = "s"
	}
	ds := fmt.Sprintf("DNSSEC DS records for %s (key tag%s %s)", e.Domain, plural, strings.Join(tags, ", "))
	why := fmt.Sprintf("the Route 53 zone of %s is not signed (kforge does not sign it), so validating resolvers, Let's Encrypt's among them, answer SERVFAIL for every name under %s", e.Domain, e.Domain)
	where := ""
	if e.Where != "" {
		where = " (" + e.Where + ")"
	}
	remove := fmt.Sprintf("remove the DS records at %s%s", e.Target, where)
	gone := fmt.Sprintf("the parent zone no longer publishes them and their TTL has passed (often a day; `dig DS %s +short` comes back empty by then)", e.Domain)
	if e.Delegated {
		return fmt.Sprintf("%s already delegates %s to the zone but still publishes %s: %s now, and no certificate can be issued. To repair it, %s; resolvers recover once %s, and `kforge dns delegate` then finds nothing to change",
			e.Target, e.Domain, ds, why, remove, gone)
	}
	return fmt.Sprintf("refusing to delegate %s: %s publishes %s, and %s once the name servers point at it. First %s, wait until %s, then run `kforge dns delegate` again; kforge changed nothing",
		e.Domain, e.Target, ds, why, remove, gone)
}

// Is makes errors.Is(err, ErrDSRecords) true.
func (e *DSRecordsError) Is(target error) bool { return target == ErrDSRecords }

// ErrDroppedRecords marks a delegation refused because the target serves
// records for the domain that would stop resolving (see DroppedRecordsError).
var ErrDroppedRecords = errors.New("the delegation target serves records for the domain that the change would drop")

// DiscardRecordsFlag is the command-line flag that accepts dropping them.
const DiscardRecordsFlag = "--discard-records"

// DroppedRecordsError refuses a delegation that would make records the
// target serves now stop resolving: once the name servers (or the zone cut)
// point at the cluster's zone, only that zone answers for the domain.
type DroppedRecordsError struct {
	Domain  string
	Target  string   // Registrar.Describe()
	Records []Record // what stops resolving
}

func (e *DroppedRecordsError) Error() string {
	const shown = 5
	list := make([]string, 0, shown+1)
	for i, r := range e.Records {
		if i == shown {
			list = append(list, fmt.Sprintf("and %d more", len(e.Records)-shown))
			break
		}
		list = append(list, r.Type+" "+r.Name)
	}
	plural := "s"
	if len(e.Records) == 1 {
		plural = ""
	}
	return fmt.Sprintf("refusing to delegate %s: %s serves %d record%s for it now (%s) that stop resolving once the delegation points at the cluster's zone. "+
		"Copy the ones still needed into the cluster's Route 53 zone first and run `kforge dns delegate` again, or pass %s to delegate without them; kforge changed nothing",
		e.Domain, e.Target, len(e.Records), plural, strings.Join(list, ", "), DiscardRecordsFlag)
}

// Is makes errors.Is(err, ErrDroppedRecords) true.
func (e *DroppedRecordsError) Is(target error) bool { return target == ErrDroppedRecords }

// Plan is what delegating a domain to a hosted zone would change.
type Plan struct {
	Domain  string   `json:"domain"`
	Target  string   `json:"target"`  // Registrar.Describe()
	Current []string `json:"current"` // name servers the target publishes now (normalized)
	Wanted  []string `json:"wanted"`  // name servers of the hosted zone (normalized)
	Diff    Diff     `json:"diff"`
	// DroppedRecords are the records the target serves for the domain now
	// and stops serving after the change (a RecordLister only; empty when
	// in sync, since nothing moves then).
	DroppedRecords []Record `json:"dropped_records"`
	// DiscardRecords accepts dropping them; ApplyDelegation refuses a plan
	// with DroppedRecords without it.
	DiscardRecords bool `json:"discard_records"`
}

// InSync reports whether the target already delegates to the zone.
func (p Plan) InSync() bool { return p.Diff.Empty() }

// PlanDelegation reads the name servers reg publishes for domain and compares
// them with the zone's. It makes no change.
//
// When reg is a DSReader it also reads the domain's DS records and refuses
// with a *DSRecordsError while there are any, whether or not the name
// servers already match: a delegation to the unsigned zone under DS records
// fails validation, so an in-sync plan with DS records is a broken
// delegation, not "nothing to change". A failure to read them is an error
// too, never taken for "none".
//
// When the plan is not in sync and reg is a RecordLister, it lists in
// DroppedRecords what the target serves for the domain now and stops
// serving after the change; ApplyDelegation refuses such a plan unless
// DiscardRecords is set (see Plan.RecordsError).
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
	p := Plan{
		Domain:  NormalizeName(domain),
		Target:  reg.Describe(),
		Current: cur,
		Wanted:  wanted,
		Diff:    Compare(cur, wanted),
	}
	if err := checkNoDS(ctx, reg, p.Domain, p.InSync()); err != nil {
		return Plan{}, err
	}
	if p.DroppedRecords, err = droppedRecords(ctx, reg, p); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// droppedRecords lists what stops resolving when the plan is applied: the
// records a RecordLister serves for the domain now. Nothing moves for a
// plan in sync, so then there is nothing to list (and nothing to ask). A
// failure to read them is an error, never taken for "none".
func droppedRecords(ctx context.Context, reg Registrar, p Plan) ([]Record, error) {
	rl, ok := reg.(RecordLister)
	if !ok || p.InSync() {
		return []Record{}, nil
	}
	recs, err := rl.ServedRecords(ctx, p.Domain, p.Current)
	if err != nil {
		return nil, fmt.Errorf("reading the records %s serves for %s (kforge does not move a delegation without knowing what stops resolving): %w", p.Target, p.Domain, err)
	}
	if recs == nil {
		recs = []Record{}
	}
	return recs, nil
}

// RecordsError is the refusal for a plan that drops records without
// DiscardRecords; nil when the plan drops none or may drop them.
func (p Plan) RecordsError() error {
	if p.InSync() || len(p.DroppedRecords) == 0 || p.DiscardRecords {
		return nil
	}
	return &DroppedRecordsError{Domain: p.Domain, Target: p.Target, Records: p.DroppedRecords}
}

// ApplyDelegation sets the planned name servers when they differ and reads
// them back to confirm. It is a no-op for a plan already in sync, and
// refuses a plan that drops records unless DiscardRecords is set. Right
// before the change it reads the DS records again (a DSReader only), since
// they may have been added after the plan was shown.
func ApplyDelegation(ctx context.Context, reg Registrar, p Plan) error {
	if p.InSync() {
		return nil
	}
	if err := p.RecordsError(); err != nil {
		return err
	}
	if err := checkNoDS(ctx, reg, p.Domain, false); err != nil {
		return err
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

// dsHinter is a DSReader that can say where its DS records are removed.
type dsHinter interface {
	DSRecordsWhere(domain string) string
}

// checkNoDS returns a *DSRecordsError when reg reads DS records for domain
// and an error when the read fails; nil when it reads none, or when reg
// cannot read DS records at all (not a DSReader).
func checkNoDS(ctx context.Context, reg Registrar, domain string, delegated bool) error {
	dr, ok := reg.(DSReader)
	if !ok {
		return nil
	}
	ds, err := dr.DSRecords(ctx, domain)
	if err != nil {
		return fmt.Errorf("reading the DNSSEC DS records of %s from %s (kforge does not delegate a domain whose DS records it cannot see): %w", domain, reg.Describe(), err)
	}
	if len(ds) > 0 {
		e := &DSRecordsError{Domain: domain, Target: reg.Describe(), Records: ds, Delegated: delegated}
		if h, ok := reg.(dsHinter); ok {
			e.Where = h.DSRecordsWhere(domain)
		}
		return e
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

// RecordRows are the records the plan drops, as a table a person reads;
// nil when it drops none.
func (p Plan) RecordRows() [][]string {
	if p.InSync() || len(p.DroppedRecords) == 0 {
		return nil
	}
	rows := [][]string{{"", "NAME", "TYPE", "CONTENT"}}
	for _, r := range p.DroppedRecords {
		rows = append(rows, []string{"-", r.Name, r.Type, r.Content})
	}
	return rows
}
