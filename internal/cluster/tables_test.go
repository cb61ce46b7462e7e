package cluster

import (
	"reflect"
	"testing"
)

func TestStatusTables(t *testing.T) {
	st := &Status{
		Outputs:      Outputs{ClusterName: "kf", Environment: "dev", Region: "eu-west-1", WorkerASGNames: map[string]string{"spot": "kf-spot", "general": "kf-general"}, Emulated: true},
		ControlPlane: PoolStatus{Pool: "controller", ASG: "kf-controller", Min: 1, Desired: 1, Max: 1, InService: 1},
		Pools:        []PoolStatus{{Pool: "general", ASG: "kf-general", Max: 3}},
		TargetGroups: []TargetGroupStatus{{Name: "https", Targets: 2, States: map[string]int{"unhealthy": 1, "healthy": 1}}},
		Images:       []ImageStatus{{ID: "ami-0123456789abcdef0", Groups: []string{"controller", "general"}, State: "available"}},
	}
	tables := st.Tables()
	if len(tables) != 7 {
		t.Fatalf("Tables() has %d tables, want outputs, pools, control plane, targets, images, key, backups", len(tables))
	}
	out := tables[0]
	if got := out[len(out)-3:]; !reflect.DeepEqual(got, [][]string{{"worker ASG general", "kf-general"}, {"worker ASG spot", "kf-spot"}, {"emulated", "yes (local emulator; its data lives only as long as its process)"}}) {
		t.Errorf("outputs end with %q, want the worker ASGs by pool name, then emulated", got)
	}
	if got := tables[1][1:]; !reflect.DeepEqual(got, [][]string{{"controller", "kf-controller", "1", "1", "1", "1"}, {"general", "kf-general", "0", "0", "3", "0"}}) {
		t.Errorf("pools = %q, want the control plane first", got)
	}
	if got := tables[2][1]; !reflect.DeepEqual(got, []string{"(none)", "", "", ""}) {
		t.Errorf("no controller: row %q, want (none)", got)
	}
	if got := tables[3][1]; !reflect.DeepEqual(got, []string{"https", "2", "healthy=1 unhealthy=1"}) {
		t.Errorf("target group row %q, want states sorted by name", got)
	}
	if got := tables[4][1]; !reflect.DeepEqual(got, []string{"ami-0123456789abcdef0", "available", "controller,general", "-"}) {
		t.Errorf("image row %q, want the groups joined and no deprecation", got)
	}
	if got := tables[5][1]; !reflect.DeepEqual(got, []string{"", "not read"}) {
		t.Errorf("key row %q, want a key not read said so", got)
	}
	if got := tables[6][1]; !reflect.DeepEqual(got, []string{"", "not read"}) {
		t.Errorf("backups row %q, want backups not read said so", got)
	}
}

// The problems come first, as warnings, then the notes.
func TestStatusMessages(t *testing.T) {
	st := &Status{Problems: []string{"image gone"}, Notes: []string{"key not read"}}
	if got, want := st.Messages(), []string{"warning: image gone", "note: key not read"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Messages() = %q, want %q", got, want)
	}
}
