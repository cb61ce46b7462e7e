package sweep

import (
	tfjson "github.com/hashicorp/terraform-json"
)

// StateValues collects every string held anywhere in the attribute values
// of a Terraform state's managed resources, all modules: ids, ARNs, names,
// and the ids other resources point to (a VPC's main route table, a
// subnet's VPC). A listed resource whose ID or ARN is among them is known to
// Terraform.
func StateValues(st *tfjson.State) map[string]bool {
	known := map[string]bool{}
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return known
	}
	var walkValue func(v any)
	walkValue = func(v any) {
		switch x := v.(type) {
		case string:
			if x != "" {
				known[x] = true
			}
		case map[string]any:
			for _, e := range x {
				walkValue(e)
			}
		case []any:
			for _, e := range x {
				walkValue(e)
			}
		}
	}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		for _, r := range m.Resources {
			if r.Mode != tfjson.ManagedResourceMode {
				continue
			}
			for _, v := range r.AttributeValues {
				walkValue(v)
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(st.Values.RootModule)
	return known
}

// runtimeChild lists the kinds AWS or the cluster creates at run time on
// behalf of a parent Terraform manages: they are never in the state, and
// they are not orphans while their parent is kept.
var runtimeChild = map[string]bool{
	KindInstance:    true, // launched by an ASG
	KindENI:         true, // of an instance, load balancer or mount target
	KindVolume:      true, // of an instance
	KindRecord:      true, // in a zone, by its users (not the names Terraform manages: see Target.RecordNames)
	KindAccessPoint: true, // made by the EFS CSI driver
}

// Orphans returns the resources of all that the state does not know: their
// ID and ARN appear nowhere in known (see StateValues). A run-time child
// (instance, ENI, volume, record, access point) shares its parent's fate
// when the parent is listed, and is kept when the parent is not (an
// attached ENI of something AWS manages); one without a parent is an orphan,
// except a volume: a detached volume may hold a persistent volume's data, so
// only `down` removes it.
func Orphans(all []Resource, known map[string]bool) []Resource {
	const (
		undecided = iota
		keep
		orphan
	)
	fate := map[string]int{}
	listed := map[string]string{} // ID or ARN -> ID
	for _, r := range all {
		listed[r.ID] = r.ID
		if r.ARN != "" {
			listed[r.ARN] = r.ID
		}
		switch {
		case known[r.ID] || (r.ARN != "" && known[r.ARN]):
			fate[r.ID] = keep
		case !runtimeChild[r.Kind]:
			fate[r.ID] = orphan
		case r.Parent == "":
			if r.Kind == KindVolume {
				fate[r.ID] = keep
			} else {
				fate[r.ID] = orphan
			}
		case known[r.Parent]:
			fate[r.ID] = keep
		}
	}
	// An ENI follows its instance, which follows its ASG: settle in passes.
	for changed := true; changed; {
		changed = false
		for _, r := range all {
			if fate[r.ID] != undecided {
				continue
			}
			parent, ok := listed[r.Parent]
			switch {
			case !ok:
				fate[r.ID] = keep
			case fate[parent] == undecided:
				continue
			default:
				fate[r.ID] = fate[parent]
			}
			changed = true
		}
	}
	var out []Resource
	for _, r := range all {
		if fate[r.ID] == orphan {
			out = append(out, r)
		}
	}
	return out
}
