package tfrun

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// ModuleChanges counts a plan's changes in one module ("" is the root).
type ModuleChanges struct {
	Module  string `json:"module"`
	Add     int    `json:"add"`
	Change  int    `json:"change"`
	Destroy int    `json:"destroy"`
	Replace int    `json:"replace"`
}

// Summary is a plan's changes grouped by module, modules sorted by name.
type Summary struct {
	Modules []ModuleChanges `json:"modules"`
	Totals  ModuleChanges   `json:"totals"`
	// DeletedOutside are the resources the state recorded that Terraform
	// found gone when it read them (deleted outside Terraform, or read as
	// gone, as the AWS provider reads a KMS key pending deletion): the plan
	// creates them again, new and empty. Sorted.
	DeletedOutside []string `json:"deleted_outside,omitempty"`
	// UndoneOutside are the resources changed outside Terraform since the
	// last apply whose changes this plan sets back. Sorted by address.
	UndoneOutside []OutsideChange `json:"undone_outside,omitempty"`
}

// OutsideChange is a resource changed outside Terraform that the plan
// changes back.
type OutsideChange struct {
	Address string `json:"address"`
	// Attributes are its top-level arguments both changed outside and
	// changed by the plan, sorted; a map's (tags) by the keys, as
	// `tags["owner"]`. Only names, never values, which may be secret.
	Attributes []string `json:"attributes"`
	// Reconfigured are those of Attributes the plan does not set back to
	// what the last apply left but to another value: the configuration
	// changed them too, or their new value is known only at the apply.
	// Sorted; empty where the plan sets every one back.
	Reconfigured []string `json:"reconfigured,omitempty"`
}

// SetBack are the attributes the plan sets back to what the last apply
// left: Attributes but those Reconfigured.
func (c OutsideChange) SetBack() []string {
	var names []string
	for _, name := range c.Attributes {
		if !slices.Contains(c.Reconfigured, name) {
			names = append(names, name)
		}
	}
	return names
}

// Total is the number of resources the plan touches.
func (s Summary) Total() int {
	return s.Totals.Add + s.Totals.Change + s.Totals.Destroy + s.Totals.Replace
}

// changeKind is how a summary counts one resource change.
type changeKind int

const (
	notCounted changeKind = iota
	kindAdd
	kindChange
	kindDestroy
	kindReplace
)

// summaryBuilder counts resource changes by module; Summarize (from the
// saved plan) and planStream (from the plan's JSON stream) share it so both
// count alike.
type summaryBuilder struct {
	byModule map[string]*ModuleChanges
	totals   ModuleChanges
	deleted  []string
}

// drifted notes a resource's change outside Terraform: only a managed
// resource found deleted is kept here. An update outside is named only
// where the plan sets it back (undoneOutside), which needs the full plan.
func (b *summaryBuilder) drifted(module, addr, action string) {
	if action == "delete" && !isDataSource(module, addr) {
		b.deleted = append(b.deleted, addr)
	}
}

func (b *summaryBuilder) count(module string, k changeKind) {
	if k == notCounted {
		return
	}
	if b.byModule == nil {
		b.byModule = map[string]*ModuleChanges{}
	}
	m := b.byModule[module]
	if m == nil {
		m = &ModuleChanges{Module: module}
		b.byModule[module] = m
	}
	for _, c := range []*ModuleChanges{m, &b.totals} {
		switch k {
		case kindAdd:
			c.Add++
		case kindChange:
			c.Change++
		case kindDestroy:
			c.Destroy++
		case kindReplace:
			c.Replace++
		}
	}
}

func (b *summaryBuilder) summary() Summary {
	s := Summary{Modules: []ModuleChanges{}, Totals: b.totals, DeletedOutside: slices.Sorted(slices.Values(b.deleted))}
	for _, m := range b.byModule {
		s.Modules = append(s.Modules, *m)
	}
	sort.Slice(s.Modules, func(i, j int) bool { return s.Modules[i].Module < s.Modules[j].Module })
	return s
}

// Summarize counts the resource changes of a plan by module. A replacement
// counts once, as replace (Terraform's own summary counts it as one add and
// one destroy). Data sources, no-ops, moves, imports and forgets without a
// change are not counted. Resources found deleted outside Terraform are
// DeletedOutside.
func Summarize(plan *tfjson.Plan) Summary {
	var b summaryBuilder
	for _, rc := range plan.ResourceChanges {
		if rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		a := rc.Change.Actions
		switch {
		case a.Replace():
			b.count(rc.ModuleAddress, kindReplace)
		case a.Create():
			b.count(rc.ModuleAddress, kindAdd)
		case a.Update():
			b.count(rc.ModuleAddress, kindChange)
		case a.Delete():
			b.count(rc.ModuleAddress, kindDestroy)
		}
	}
	for _, rc := range plan.ResourceDrift {
		if rc.Change != nil && rc.Mode != tfjson.DataResourceMode && rc.Change.Actions.Delete() {
			b.drifted(rc.ModuleAddress, rc.Address, "delete")
		}
	}
	s := b.summary()
	s.UndoneOutside = undoneOutside(plan)
	return s
}

// undoneOutside compares each managed resource Terraform found updated
// outside Terraform with what the plan does to it: the top-level
// attributes both changed outside and changed by the plan are what
// applying undoes: set back where the plan's value is what the last apply
// left, else reconfigured. A change outside that the configuration
// ignores (a group's desired capacity, set by Cluster Autoscaler) is left
// as it is by the plan, so it is not named, nor is a resource the plan
// changes only where nothing changed outside. A map's entries that differ
// only as null and empty are no change.
func undoneOutside(plan *tfjson.Plan) []OutsideChange {
	planned := map[string]*tfjson.Change{}
	for _, rc := range plan.ResourceChanges {
		if rc.Change != nil && rc.Mode == tfjson.ManagedResourceMode && (rc.Change.Actions.Update() || rc.Change.Actions.Replace()) {
			planned[rc.Address] = rc.Change
		}
	}
	var out []OutsideChange
	for _, d := range plan.ResourceDrift {
		p := planned[d.Address]
		if p == nil || d.Change == nil || d.Mode != tfjson.ManagedResourceMode || !d.Change.Actions.Update() {
			continue
		}
		v := values{
			was: attributes(d.Change.Before), is: attributes(d.Change.After),
			from: attributes(p.Before), to: attributes(p.After), unknown: attributes(p.AfterUnknown),
		}
		c := OutsideChange{Address: d.Address}
		for _, name := range attributeNames(v.was, v.is) {
			if !v.undone(name) {
				continue
			}
			// A map (tags) is named by the keys changed both outside and
			// by the plan: "tags" alone does not say which of a
			// resource's tags the apply takes away.
			if entries, ok := v.entries(name); ok {
				for _, key := range attributeNames(entries.was, entries.is) {
					if entries.undone(key) {
						c.add(fmt.Sprintf("%s[%q]", name, key), entries.reconfigured(key))
					}
				}
				continue
			}
			c.add(name, v.reconfigured(name))
		}
		if len(c.Attributes) > 0 {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// values are one object's values in a plan: before and after the change
// outside (the drift), before and after the plan, and which of the
// plan's are known only at the apply.
type values struct {
	was, is, from, to, unknown map[string]any
}

// undone reports whether name was changed outside and is changed again by
// the plan.
func (v values) undone(name string) bool {
	changedOutside := !reflect.DeepEqual(v.was[name], v.is[name])
	changedByPlan := holdsTrue(v.unknown[name]) || !reflect.DeepEqual(v.from[name], v.to[name])
	return changedOutside && changedByPlan
}

// reconfigured reports whether the plan changes name to something other
// than what the last apply left, or to a value known only at the apply.
func (v values) reconfigured(name string) bool {
	return holdsTrue(v.unknown[name]) || !reflect.DeepEqual(v.was[name], v.to[name])
}

// entries are the values of a map-valued attribute, such as tags, keyed
// by its keys; false where the attribute is not a map on every side (null
// counts as an empty map) or is unknown as a whole.
func (v values) entries(name string) (values, bool) {
	if u, whole := v.unknown[name].(bool); whole && u {
		return values{}, false
	}
	var e values
	for _, side := range []struct {
		from map[string]any
		to   *map[string]any
	}{{v.was, &e.was}, {v.is, &e.is}, {v.from, &e.from}, {v.to, &e.to}} {
		value := side.from[name]
		m, ok := value.(map[string]any)
		if !ok && value != nil {
			return values{}, false
		}
		*side.to = m
	}
	e.unknown, _ = v.unknown[name].(map[string]any)
	return e, true
}

// add names an attribute (or a map's entry) both changed outside and
// changed by the plan.
func (c *OutsideChange) add(name string, reconfigured bool) {
	c.Attributes = append(c.Attributes, name)
	if reconfigured {
		c.Reconfigured = append(c.Reconfigured, name)
	}
}

// attributes is a resource value of a plan's JSON as its top-level
// attributes (nil for a null value).
func attributes(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// attributeNames are the attribute names of before and after, sorted, each
// once: an attribute may be null, and absent, on either side.
func attributeNames(before, after map[string]any) []string {
	names := slices.AppendSeq(slices.Collect(maps.Keys(before)), maps.Keys(after))
	slices.Sort(names)
	return slices.Compact(names)
}

// holdsTrue reports whether an after_unknown value marks anything unknown:
// true itself, or true anywhere in a nested object or list.
func holdsTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case map[string]any:
		for _, e := range x {
			if holdsTrue(e) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(x, holdsTrue)
	}
	return false
}

// planStream reads a `terraform plan -json` stream: it keeps the
// diagnostics and summarises the planned_change messages as Summarize does
// the saved plan, so a plan needs no `terraform show -json` to be summarised.
// resource_drift messages (changes made outside Terraform, already in the
// state) are not changes the plan makes and are not counted; a resource
// found deleted is kept in DeletedOutside.
type planStream struct {
	Diagnostics
	lines   messageLines
	builder summaryBuilder
	// updatedOutside and changed are the managed resources Terraform found
	// updated outside it and those the plan updates or replaces: where
	// both hold one, the full plan says what applying would undo.
	updatedOutside, changed map[string]bool
}

func (p *planStream) Write(b []byte) (int, error) {
	p.Diagnostics.Write(b)
	p.lines.feed(b, func(m streamMessage) {
		module, addr := m.Change.Resource.Module, m.Change.Resource.Addr
		switch m.Type {
		case "planned_change":
			kind := streamChangeKind(module, addr, m.Change.Action)
			p.builder.count(module, kind)
			if kind == kindChange || kind == kindReplace {
				p.changed = setWith(p.changed, addr)
			}
		case "resource_drift":
			p.builder.drifted(module, addr, m.Change.Action)
			if m.Change.Action == "update" && !isDataSource(module, addr) {
				p.updatedOutside = setWith(p.updatedOutside, addr)
			}
		}
	})
	return len(b), nil
}

// Summary is the summary of the planned changes written so far.
func (p *planStream) Summary() Summary { return p.builder.summary() }

// changesWhatChangedOutside reports whether the plan updates or replaces a
// resource Terraform found updated outside it: then the full plan has
// UndoneOutside to tell.
func (p *planStream) changesWhatChangedOutside() bool {
	for addr := range p.updatedOutside {
		if p.changed[addr] {
			return true
		}
	}
	return false
}

func setWith(set map[string]bool, key string) map[string]bool {
	if set == nil {
		set = map[string]bool{}
	}
	set[key] = true
	return set
}

// streamChangeKind maps a planned_change action (create, update, delete,
// replace, read, noop, move, remove, import) to how it is counted. A move or
// import that also changes the resource is reported as that change.
func streamChangeKind(module, addr, action string) changeKind {
	if isDataSource(module, addr) {
		return notCounted
	}
	switch action {
	case "create":
		return kindAdd
	case "update":
		return kindChange
	case "delete":
		return kindDestroy
	case "replace":
		return kindReplace
	}
	return notCounted
}

// isDataSource tells a data source's address in the plan's JSON stream
// (module.x.data.aws_ami.y) from a managed resource's.
func isDataSource(module, addr string) bool {
	local := addr
	if module != "" {
		local = strings.TrimPrefix(addr, module+".")
	}
	return strings.HasPrefix(local, "data.")
}
