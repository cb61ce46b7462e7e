package cluster

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The tables a person reads for the workflows' results, a header row first;
// the cli package aligns and prints them.

// Rows are the outputs as a two-column table.
func (o *Outputs) Rows() [][]string {
	rows := [][]string{
		{"OUTPUT", "VALUE"},
		{"cluster", o.ClusterName + " (" + o.Environment + ", " + o.Region + ")"},
		{"API endpoint", o.APIEndpoint},
		{"NLB DNS name", o.NLBDNSName},
		{"name servers", strings.Join(o.NameServers, " ")},
		{"hosted zone", o.ZoneID},
		{"certs bucket", o.CertsBucket},
		{"VPC", o.VPCID},
		{"EFS", o.EFSID},
		{"KMS key", o.KMSKeyARN},
		{"control-plane ASG", o.ControllerASGName},
	}
	for _, pool := range slices.Sorted(maps.Keys(o.WorkerASGNames)) {
		rows = append(rows, []string{"worker ASG " + pool, o.WorkerASGNames[pool]})
	}
	if o.Emulated {
		rows = append(rows, []string{"emulated", "yes (local emulator; its data lives only as long as its process)"})
	}
	return rows
}

// Tables are the live facts of a status beside its outputs: the groups'
// capacity, the control-plane instances, the NLB's target health, the
// nodes' images, the cluster key's state and the file system's backups.
func (st *Status) Tables() [][][]string {
	pools := [][]string{{"POOL", "ASG", "MIN", "DESIRED", "MAX", "IN SERVICE"}}
	for _, p := range append([]PoolStatus{st.ControlPlane}, st.Pools...) {
		pools = append(pools, []string{p.Pool, p.ASG, fmt.Sprint(p.Min), fmt.Sprint(p.Desired), fmt.Sprint(p.Max), fmt.Sprint(p.InService)})
	}
	controllers := [][]string{{"CONTROL-PLANE INSTANCE", "STATE", "LIFECYCLE", "HEALTH"}}
	for _, c := range st.Controllers {
		controllers = append(controllers, []string{c.ID, c.State, c.Lifecycle, c.Health})
	}
	if len(st.Controllers) == 0 {
		controllers = append(controllers, []string{"(none)", "", "", ""})
	}
	targets := [][]string{{"TARGET GROUP", "TARGETS", "HEALTH"}}
	for _, tg := range st.TargetGroups {
		var parts []string
		for _, s := range slices.Sorted(maps.Keys(tg.States)) {
			parts = append(parts, fmt.Sprintf("%s=%d", s, tg.States[s]))
		}
		targets = append(targets, []string{tg.Name, fmt.Sprint(tg.Targets), strings.Join(parts, " ")})
	}
	images := [][]string{{"IMAGE", "STATE", "GROUPS", "DEPRECATION"}}
	for _, i := range st.Images {
		images = append(images, []string{i.ID, i.State, strings.Join(i.Groups, ","), cmp.Or(i.DeprecationTime, "-")})
	}
	key := [][]string{{"CLUSTER KEY", "STATE"}, {st.Outputs.KMSKeyARN, cmp.Or(st.KeyState, "not read")}}
	backups := [][]string{{"FILE SYSTEM", "AUTOMATIC BACKUPS"}, {st.Outputs.EFSID, cmp.Or(st.EFSBackups, "not read")}}
	return [][][]string{st.Outputs.Rows(), pools, controllers, targets, images, key, backups}
}

// Messages are the status's problems as warnings, then its notes.
func (st *Status) Messages() []string {
	var out []string
	for _, p := range st.Problems {
		out = append(out, "warning: "+p)
	}
	for _, n := range st.Notes {
		out = append(out, "note: "+n)
	}
	return out
}

// ReplaceRows are the group's instances to replace, indented under the
// group's line.
func (g *RollGroup) ReplaceRows() [][]string {
	rows := [][]string{{"  INSTANCE", "STATE", "REASON"}}
	for _, i := range g.Replace {
		rows = append(rows, []string{"  " + i.ID, i.LifecycleState, i.Reason})
	}
	return rows
}

// StepRows are the replacements a roll made.
func (res *RollResult) StepRows() [][]string {
	rows := [][]string{{"POOL", "OLD", "NEW", "STRATEGY", "SECONDS", "NODE READY", "ONE SHORT FOR"}}
	for _, s := range res.Steps {
		ready := "not checked"
		if s.NodesReady {
			ready = "yes"
		}
		short := s.Unavailable
		if short == "" {
			short = "-"
		}
		rows = append(rows, []string{s.Pool, s.Old, strings.Join(s.New, ","), s.Strategy, fmt.Sprint(s.Seconds), ready, short})
	}
	return rows
}
