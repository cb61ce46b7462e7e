package tfrun

import (
	"sort"

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
}

// Total is the number of resources the plan touches.
func (s Summary) Total() int {
	return s.Totals.Add + s.Totals.Change + s.Totals.Destroy + s.Totals.Replace
}

// Summarize counts the resource changes of a plan by module. A replacement
// counts once, as replace (Terraform's own summary counts it as one add and
// one destroy).
func Summarize(plan *tfjson.Plan) Summary {
	byModule := map[string]*ModuleChanges{}
	var s Summary
	for _, rc := range plan.ResourceChanges {
		if rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		m := byModule[rc.ModuleAddress]
		if m == nil {
			m = &ModuleChanges{Module: rc.ModuleAddress}
			byModule[rc.ModuleAddress] = m
		}
		a := rc.Change.Actions
		switch {
		case a.Replace():
			m.Replace++
			s.Totals.Replace++
		case a.Create():
			m.Add++
			s.Totals.Add++
		case a.Update():
			m.Change++
			s.Totals.Change++
		case a.Delete():
			m.Destroy++
			s.Totals.Destroy++
		}
	}
	for _, m := range byModule {
		if m.Add+m.Change+m.Destroy+m.Replace > 0 {
			s.Modules = append(s.Modules, *m)
		}
	}
	sort.Slice(s.Modules, func(i, j int) bool { return s.Modules[i].Module < s.Modules[j].Module })
	if s.Modules == nil {
		s.Modules = []ModuleChanges{}
	}
	return s
}
