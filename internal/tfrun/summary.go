package tfrun

import (
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
// resource found deleted is kept, since an update outside (an EFS file
// system's size, a group's capacity) is routine and not the plan's doing.
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
	return b.summary()
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
}

func (p *planStream) Write(b []byte) (int, error) {
	p.Diagnostics.Write(b)
	p.lines.feed(b, func(m streamMessage) {
		switch m.Type {
		case "planned_change":
			p.builder.count(m.Change.Resource.Module, streamChangeKind(m.Change.Resource.Module, m.Change.Resource.Addr, m.Change.Action))
		case "resource_drift":
			p.builder.drifted(m.Change.Resource.Module, m.Change.Resource.Addr, m.Change.Action)
		}
	})
	return len(b), nil
}

// Summary is the summary of the planned changes written so far.
func (p *planStream) Summary() Summary { return p.builder.summary() }

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
