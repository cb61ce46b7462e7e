// Package inventory flattens a Terraform plan or state (as printed by
// `terraform show -json`) into the list of managed resources kforge reasons
// about, and answers the questions both the cost estimate and the
// architecture graph need: which launch template an Auto Scaling Group uses,
// which ASG is the control plane, which region the cluster is in.
//
// It works on plans (values may be unknown, so links are also resolved from
// the configuration's references) and on states (every id is known).
package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// Resource is one managed resource instance.
type Resource struct {
	Address string // full address, e.g. module.workers["general"].aws_autoscaling_group.this
	Module  string // module instance address, "" for the root module
	Type    string
	Name    string
	Index   any // count index (float64/json.Number) or for_each key (string); nil when single
	Values  map[string]any
	// DependsOn is known for state resources only.
	DependsOn []string
}

// Inventory is every managed resource of a plan or state, in address order.
type Inventory struct {
	Resources []*Resource
	// Outputs are the root module outputs whose values are known.
	Outputs map[string]any
	// Variables are the root module input values (plans only).
	Variables map[string]any

	config *tfjson.Config
	byAddr map[string]*Resource
}

// FromPlan builds the inventory of the planned values of a plan.
func FromPlan(plan *tfjson.Plan) (*Inventory, error) {
	if plan == nil {
		return nil, errors.New("plan is nil")
	}
	if plan.PlannedValues == nil || plan.PlannedValues.RootModule == nil {
		return nil, errors.New("plan has no planned_values: produce it with `terraform show -json <planfile>`")
	}
	inv := newInventory(plan.PlannedValues)
	inv.config = plan.Config
	for name, v := range plan.Variables {
		if v != nil {
			inv.Variables[name] = v.Value
		}
	}
	return inv, nil
}

// FromState builds the inventory of a state.
func FromState(state *tfjson.State) (*Inventory, error) {
	if state == nil {
		return nil, errors.New("state is nil")
	}
	if state.Values == nil || state.Values.RootModule == nil {
		return nil, errors.New("state is empty: nothing has been applied yet (use the plan instead)")
	}
	return newInventory(state.Values), nil
}

func newInventory(values *tfjson.StateValues) *Inventory {
	inv := &Inventory{
		Outputs:   map[string]any{},
		Variables: map[string]any{},
		byAddr:    map[string]*Resource{},
	}
	for name, out := range values.Outputs {
		if out != nil && !out.Sensitive && out.Value != nil {
			inv.Outputs[name] = out.Value
		}
	}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		for _, r := range m.Resources {
			if r.Mode != tfjson.ManagedResourceMode || r.DeposedKey != "" {
				continue
			}
			res := &Resource{
				Address:   r.Address,
				Module:    m.Address,
				Type:      r.Type,
				Name:      r.Name,
				Index:     r.Index,
				Values:    r.AttributeValues,
				DependsOn: r.DependsOn,
			}
			if res.Values == nil {
				res.Values = map[string]any{}
			}
			inv.Resources = append(inv.Resources, res)
			inv.byAddr[res.Address] = res
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(values.RootModule)
	sort.Slice(inv.Resources, func(i, j int) bool { return inv.Resources[i].Address < inv.Resources[j].Address })
	return inv
}

// OfType returns the resources of one type, in address order.
func (inv *Inventory) OfType(typ string) []*Resource {
	var out []*Resource
	for _, r := range inv.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// ByAddress returns the resource with that address, or nil.
func (inv *Inventory) ByAddress(addr string) *Resource { return inv.byAddr[addr] }

// Region is the AWS region of the cluster: the root variable or output
// "region", or else the region of the first availability zone seen.
func (inv *Inventory) Region() string {
	for _, src := range []map[string]any{inv.Variables, inv.Outputs} {
		if s, ok := src["region"].(string); ok && s != "" {
			return s
		}
	}
	for _, r := range inv.OfType("aws_subnet") {
		if az := r.String("availability_zone"); len(az) > 1 {
			return az[:len(az)-1]
		}
	}
	return ""
}

// String returns a top-level string attribute, "" when absent or unknown.
func (r *Resource) String(key string) string {
	s, _ := r.Values[key].(string)
	return s
}

// Number returns a top-level numeric attribute.
func (r *Resource) Number(key string) (float64, bool) { return Number(r.Values[key]) }

// Bool returns a top-level boolean attribute.
func (r *Resource) Bool(key string) (bool, bool) {
	b, ok := r.Values[key].(bool)
	return b, ok
}

// Block returns the first element of a nested block list (Terraform
// renders blocks as lists of objects), or nil.
func (r *Resource) Block(key string) map[string]any { return FirstBlock(r.Values[key]) }

// Tags returns tags_all when known, else tags.
func (r *Resource) Tags() map[string]string {
	out := map[string]string{}
	for _, key := range []string{"tags", "tags_all"} {
		m, _ := r.Values[key].(map[string]any)
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
	}
	return out
}

// IndexKey renders the resource's index as it appears in its address:
// `["a"]`, `[0]`, or "" when it has none.
func (r *Resource) IndexKey() string { return indexKey(r.Index) }

func indexKey(idx any) string {
	switch v := idx.(type) {
	case nil:
		return ""
	case string:
		return "[" + strconv.Quote(v) + "]"
	case float64:
		return "[" + strconv.FormatFloat(v, 'f', -1, 64) + "]"
	case json.Number:
		return "[" + v.String() + "]"
	default:
		return fmt.Sprintf("[%v]", v)
	}
}

// FirstBlock returns v as a block: the first element of a list of objects,
// or the object itself.
func FirstBlock(v any) map[string]any {
	switch b := v.(type) {
	case []any:
		if len(b) > 0 {
			m, _ := b[0].(map[string]any)
			return m
		}
	case map[string]any:
		return b
	}
	return nil
}

// Blocks returns v as a list of blocks.
func Blocks(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// Number converts a JSON number (float64 or json.Number) to float64.
func Number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// configModule finds the configuration of a module instance address such
// as module.a["x"].module.b[0], ignoring instance keys.
func (inv *Inventory) configModule(moduleAddr string) *tfjson.ConfigModule {
	if inv.config == nil || inv.config.RootModule == nil {
		return nil
	}
	m := inv.config.RootModule
	for _, name := range moduleCallNames(moduleAddr) {
		call, ok := m.ModuleCalls[name]
		if !ok || call.Module == nil {
			return nil
		}
		m = call.Module
	}
	return m
}

// moduleCallNames splits module.a["x"].module.b into [a b].
func moduleCallNames(addr string) []string {
	var names []string
	for addr != "" {
		if !strings.HasPrefix(addr, "module.") {
			return names
		}
		addr = addr[len("module."):]
		end := strings.IndexAny(addr, ".[")
		if end < 0 {
			return append(names, addr)
		}
		names = append(names, addr[:end])
		addr = addr[end:]
		if strings.HasPrefix(addr, "[") {
			close := closingBracket(addr)
			if close < 0 {
				return names
			}
			addr = addr[close+1:]
		}
		addr = strings.TrimPrefix(addr, ".")
	}
	return names
}

// closingBracket finds the `]` that closes the index at s[0], skipping
// brackets inside quoted keys.
func closingBracket(s string) int {
	inQuote := false
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && inQuote:
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case s[i] == ']' && !inQuote:
			return i
		}
	}
	return -1
}

// configResource returns the configuration block of a resource.
func (inv *Inventory) configResource(r *Resource) *tfjson.ConfigResource {
	m := inv.configModule(r.Module)
	if m == nil {
		return nil
	}
	for _, c := range m.Resources {
		if c.Mode == tfjson.ManagedResourceMode && c.Type == r.Type && c.Name == r.Name {
			return c
		}
	}
	return nil
}

// references collects every reference in the expressions under path
// (e.g. "launch_template", or "mixed_instances_policy" for all nested).
func (inv *Inventory) references(r *Resource, path ...string) []string {
	c := inv.configResource(r)
	if c == nil {
		return nil
	}
	var out []string
	var collect func(exprs map[string]*tfjson.Expression, path []string)
	collect = func(exprs map[string]*tfjson.Expression, path []string) {
		for key, e := range exprs {
			if e == nil || e.ExpressionData == nil {
				continue
			}
			if len(path) > 0 && key != path[0] {
				continue
			}
			rest := path
			if len(rest) > 0 {
				rest = rest[1:]
			}
			if len(rest) == 0 {
				out = append(out, e.References...)
			}
			for _, nb := range e.NestedBlocks {
				collect(nb, rest)
			}
		}
	}
	collect(c.Expressions, path)
	return out
}

// Referenced resolves the references a resource makes (in the expressions
// under path) to resources of type typ in the same module instance. When the
// referring resource has an index, a target with the same index is
// preferred (for_each over pools inside one module).
func (inv *Inventory) Referenced(r *Resource, typ string, path ...string) []*Resource {
	seen := map[string]bool{}
	var out []*Resource
	for _, ref := range inv.references(r, path...) {
		parts := strings.Split(ref, ".")
		if len(parts) < 2 || parts[0] != typ {
			continue
		}
		name := parts[1]
		if i := strings.Index(name, "["); i >= 0 {
			name = name[:i]
		}
		var candidates []*Resource
		for _, t := range inv.Resources {
			if t.Module == r.Module && t.Type == typ && t.Name == name {
				candidates = append(candidates, t)
			}
		}
		if len(candidates) > 1 && r.Index != nil {
			var same []*Resource
			for _, c := range candidates {
				if c.IndexKey() == r.IndexKey() {
					same = append(same, c)
				}
			}
			candidates = same
		}
		for _, c := range candidates {
			if !seen[c.Address] {
				seen[c.Address] = true
				out = append(out, c)
			}
		}
	}
	return out
}
