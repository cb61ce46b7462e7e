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

// parentKinds lists the kinds AWS or the cluster creates at run time on
// behalf of a parent Terraform manages, with the kinds that parent can be:
// they are never in the state, and they are not orphans while their parent
// is kept.
var parentKinds = map[string][]string{
	KindInstance:    {KindASG},                                        // launched by an ASG
	KindENI:         {KindInstance, KindLoadBalancer, KindFileSystem}, // of an instance, load balancer or mount target
	KindVolume:      {KindInstance},                                   // of an instance
	KindRecord:      {KindHostedZone},                                 // in a zone, by its users (not the names Terraform manages: see Target.RecordNames)
	KindAccessPoint: {KindFileSystem},                                 // made by the EFS CSI driver
}

// judgedByARN lists the kinds whose ID is a name that another kind may hold
// too: the IAM role, instance profile and policy of one node role share a
// name, and so may an Auto Scaling group, its launch template and an
// EventBridge rule. A name in the state proves nothing about which of them
// was recorded, so a listed one with an ARN (the one the provider records
// too, both read from the service) is known by that ARN alone.
var judgedByARN = map[string]bool{
	KindRole:            true,
	KindInstanceProfile: true,
	KindASG:             true,
	KindEventRule:       true,
}

// Orphans returns the resources of all that the state does not know: their
// ID and ARN appear nowhere in known (see StateValues); for the kinds in
// judgedByARN, their ARN. A run-time child (instance, ENI, volume, record,
// access point) shares its parent's fate when the parent is listed, and is
// kept when the parent is not (an attached ENI of something AWS manages);
// one without a parent is an orphan, except a volume: a detached volume may
// hold a persistent volume's data, so only `down` removes it.
func Orphans(all []Resource, known map[string]bool) []Resource {
	const (
		undecided = iota
		keep
		orphan
	)
	fate := make([]int, len(all))
	type kindRef struct{ kind, ref string }
	listed := map[kindRef]int{} // kind and ID or ARN -> index in all
	for i, r := range all {
		listed[kindRef{r.Kind, r.ID}] = i
		if r.ARN != "" {
			listed[kindRef{r.Kind, r.ARN}] = i
		}
		knownID := known[r.ID] && !(judgedByARN[r.Kind] && r.ARN != "")
		switch {
		case knownID || (r.ARN != "" && known[r.ARN]):
			fate[i] = keep
		case parentKinds[r.Kind] == nil:
			fate[i] = orphan
		case r.Parent == "":
			if r.Kind == KindVolume {
				fate[i] = keep
			} else {
				fate[i] = orphan
			}
		}
	}
	// An ENI follows its instance, which follows its ASG: settle in passes.
	for changed := true; changed; {
		changed = false
		for i, r := range all {
			if fate[i] != undecided {
				continue
			}
			parent := -1
			for _, k := range parentKinds[r.Kind] {
				if p, ok := listed[kindRef{k, r.Parent}]; ok {
					parent = p
					break
				}
			}
			switch {
			case parent < 0:
				fate[i] = keep
			case fate[parent] == undecided:
				continue
			default:
				fate[i] = fate[parent]
			}
			changed = true
		}
	}
	var out []Resource
	for i, r := range all {
		if fate[i] == orphan {
			out = append(out, r)
		}
	}
	return out
}
