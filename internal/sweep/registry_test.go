package sweep

import (
	"slices"
	"testing"
)

// TestRegistry: every kind has a name and a delete function, is deleted
// after every kind it depends on, and is listed exactly once (by its own
// lister or, for the children listed with their parent, not at all).
func TestRegistry(t *testing.T) {
	seen := map[string]int{}
	for i, k := range registry {
		if k.Kind == "" || k.Delete == nil {
			t.Errorf("registry[%d] %q: want a name and a delete function", i, k.Kind)
		}
		if _, dup := seen[k.Kind]; dup {
			t.Errorf("kind %s registered twice", k.Kind)
		}
		seen[k.Kind] = i
	}
	for i, k := range registry {
		for _, dep := range k.DependsOn {
			j, ok := seen[dep]
			switch {
			case !ok:
				t.Errorf("%s depends on %s, which is not registered", k.Kind, dep)
			case j >= i:
				t.Errorf("%s depends on %s but is deleted before it (positions %d, %d)", k.Kind, dep, i, j)
			}
		}
	}
	for _, k := range registry {
		listed := slices.Contains(listOrder, k.Kind)
		if listed != (k.List != nil) {
			t.Errorf("%s: has a lister %v, in listOrder %v", k.Kind, k.List != nil, listed)
		}
	}
	if len(listOrder) != len(slices.Compact(slices.Sorted(slices.Values(listOrder)))) {
		t.Errorf("listOrder names a kind twice: %v", listOrder)
	}
	if !slices.Equal(Order, []string{
		KindASG, KindInstance, KindLoadBalancer, KindTargetGroup, KindLaunchTemplate,
		KindAccessPoint, KindMountTarget, KindFileSystem, KindNATGateway, KindEIP,
		KindENI, KindVolume, KindVPCEndpoint, KindSubnet, KindRouteTable,
		KindInternetGateway, KindSecurityGroup, KindVPC, KindInstanceProfile,
		KindRole, KindPolicy, KindBucket, KindKMSAlias, KindKMSKey, KindEventRule, KindQueue, KindRecord,
		KindHostedZone,
	}) {
		t.Errorf("deletion order changed: %v", Order)
	}
}
