// Package graph draws a kforge cluster's architecture as Graphviz DOT from
// its Terraform plan (before `up`) or state (after): registrar, Route 53
// zone, NLB listeners, worker pools and control plane, EFS with its mount
// targets per availability zone, buckets, KMS and IAM roles, grouped by VPC
// and availability zone.
//
// Building the DOT is a pure function over hashicorp/terraform-json types;
// only Render runs Graphviz.
package graph

import (
	"fmt"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/cost/inventory"
)

// Options add what the plan does not say.
type Options struct {
	// Registrar names the domain's registrar (default "Porkbun").
	Registrar string
	// StateBucket is the S3 backend's bucket, drawn when set (it is made
	// before Terraform runs, so it is in neither plan nor state).
	StateBucket string
}

// FromPlan draws the resources a plan would have after apply.
func FromPlan(plan *tfjson.Plan, opts Options) (string, error) {
	inv, err := inventory.FromPlan(plan)
	if err != nil {
		return "", fmt.Errorf("reading plan: %w", err)
	}
	return DOT(inv, opts), nil
}

// FromState draws the resources of a state.
func FromState(state *tfjson.State, opts Options) (string, error) {
	inv, err := inventory.FromState(state)
	if err != nil {
		return "", fmt.Errorf("reading state: %w", err)
	}
	return DOT(inv, opts), nil
}

// Colours of the AWS service families, kept light so labels stay readable.
const (
	colourNetwork = "#e8f1fb"
	colourCompute = "#fdf0e0"
	colourStorage = "#e6f4ea"
	colourSecure  = "#fbe9e7"
	colourDNS     = "#f3e8fd"
	colourOutside = "#f5f5f5"
)

// dot accumulates statements with an indentation level.
type dot struct {
	b      strings.Builder
	indent int
}

func (d *dot) line(format string, args ...any) {
	d.b.WriteString(strings.Repeat("  ", d.indent))
	fmt.Fprintf(&d.b, format, args...)
	d.b.WriteString("\n")
}

func (d *dot) open(format string, args ...any) {
	d.line(format+" {", args...)
	d.indent++
}

func (d *dot) close() {
	d.indent--
	d.line("}")
}

func (d *dot) node(id, label, fill string, extra ...string) {
	attrs := []string{"label=" + quote(label), "fillcolor=" + quote(fill)}
	attrs = append(attrs, extra...)
	d.line("%s [%s]", quote(id), strings.Join(attrs, ", "))
}

func (d *dot) edge(from, to, label string, extra ...string) {
	var attrs []string
	if label != "" {
		attrs = append(attrs, "label="+quote(label))
	}
	attrs = append(attrs, extra...)
	if len(attrs) == 0 {
		d.line("%s -> %s", quote(from), quote(to))
		return
	}
	d.line("%s -> %s [%s]", quote(from), quote(to), strings.Join(attrs, ", "))
}

// quote renders a DOT string; \n inside labels stays a line break.
func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	return `"` + s + `"`
}

// DOT renders the architecture of an inventory.
func DOT(inv *inventory.Inventory, opts Options) string {
	if opts.Registrar == "" {
		opts.Registrar = "Porkbun"
	}
	m := model(inv)
	d := &dot{}
	d.open("digraph kforge")
	title := "kforge cluster"
	if m.cluster != "" {
		title += " " + m.cluster
	}
	if m.env != "" {
		title += " (" + m.env + ")"
	}
	d.line("graph [label=%s, labelloc=t, fontsize=20, fontname=Helvetica, rankdir=LR, newrank=true, nodesep=0.3, ranksep=0.6, compound=true, pad=0.3]", quote(title))
	d.line(`node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=11, margin="0.15,0.08"]`)
	d.line("edge [fontname=Helvetica, fontsize=9, color=\"#555555\"]")
	d.line("")

	// Outside AWS.
	d.node("registrar", "Registrar\n"+opts.Registrar+"\nNS delegation", colourOutside)
	d.node("users", "Users\nHTTPS clients", colourOutside, "shape=oval")
	d.line("")

	d.open("subgraph cluster_aws")
	d.line("label=%s; style=\"rounded,dashed\"; color=\"#999999\"; fontsize=14", quote("AWS "+m.region))

	for _, z := range m.zones {
		d.node(z.Address, "Route 53 zone\n"+z.String("name"), colourDNS)
	}
	m.drawIAM(d)
	m.drawVPC(d)
	m.drawStorage(d, opts)
	d.close()
	d.line("")

	// Edges, left to right: DNS and users, the NLB, the nodes, what the
	// nodes use.
	for _, z := range m.zones {
		d.edge("registrar", z.Address, "NS")
	}
	for _, lb := range m.lbs {
		for _, z := range m.zones {
			d.edge(z.Address, lb.Address, m.recordsTo(z, "lb"))
		}
		d.edge("users", lb.Address, m.listenerPorts(lb))
		for _, g := range m.groups {
			if g.Role == inventory.RoleWorker {
				d.edge(lb.Address, g.ASG.Address, m.nodePorts(lb), "penwidth=1.5")
			}
		}
	}
	for _, g := range m.groups {
		if g.Role == inventory.RoleController {
			for _, z := range m.zones {
				if l := m.recordsTo(z, "api"); l != "" {
					d.edge(z.Address, g.ASG.Address, l+" :6443", "style=dashed")
				}
			}
		}
	}
	for _, role := range m.roles {
		for _, g := range m.groups {
			if roleServes(role, g) {
				d.edge(role.Address, g.ASG.Address, "instance profile", "style=dotted")
			}
		}
	}
	// Nodes run in every zone's node subnets: invisible edges keep the
	// zones to the right of the groups without a web of lines.
	for _, g := range m.groups {
		for _, s := range m.nodeSubnets() {
			d.edge(g.ASG.Address, s.Address, "", "style=invis")
		}
	}
	for _, s := range m.nodeSubnets() {
		az := s.String("availability_zone")
		for _, mt := range m.mountTargets {
			if m.azOf(mt) == az {
				d.edge(s.Address, mt.Address, "", "style=invis")
			}
		}
		if strings.Contains(s.Name, "private") {
			for _, n := range m.nats {
				if m.azOf(n) == az {
					d.edge(s.Address, n.Address, "default route", "style=dotted")
				}
			}
		}
	}
	if opts.StateBucket != "" && len(m.groups) > 0 {
		d.edge(m.groups[0].ASG.Address, "state-bucket", "", "style=invis", "minlen=3")
	}
	for _, g := range m.groups {
		for _, b := range m.buckets {
			d.edge(g.ASG.Address, b.Address, "", "style=dashed")
		}
		for _, fs := range m.efs {
			if g.Role == inventory.RoleWorker {
				d.edge(g.ASG.Address, fs.Address, "NFS (EFS CSI)", "style=dashed")
			}
		}
	}
	for _, fs := range m.efs {
		for _, mt := range m.mountTargets {
			d.edge(mt.Address, fs.Address, "", "arrowhead=none", "style=dotted")
		}
	}
	for _, k := range m.keys {
		for _, b := range m.buckets {
			d.edge(b.Address, k.Address, "SSE-KMS", "style=dotted", "color=\"#c0504d\"")
		}
		for _, fs := range m.efs {
			d.edge(fs.Address, k.Address, "encrypted", "style=dotted", "color=\"#c0504d\"")
		}
	}
	d.close()
	return d.b.String()
}

// arch is what the drawing needs from an inventory.
type arch struct {
	cluster, env, region string
	vpcs                 []*inventory.Resource
	subnets              []*inventory.Resource
	nats                 []*inventory.Resource
	lbs                  []*inventory.Resource
	listeners            []*inventory.Resource
	targetGroups         []*inventory.Resource
	groups               []inventory.Group
	zones                []*inventory.Resource
	records              []*inventory.Resource
	efs                  []*inventory.Resource
	mountTargets         []*inventory.Resource
	buckets              []*inventory.Resource
	keys                 []*inventory.Resource
	roles                []*inventory.Resource
}

func model(inv *inventory.Inventory) *arch {
	m := &arch{region: inv.Region()}
	for _, src := range []map[string]any{inv.Variables, inv.Outputs} {
		if s, ok := src["cluster_name"].(string); ok && m.cluster == "" {
			m.cluster = s
		}
		if s, ok := src["environment"].(string); ok && m.env == "" {
			m.env = s
		}
	}
	m.vpcs = inv.OfType("aws_vpc")
	m.subnets = inv.OfType("aws_subnet")
	m.nats = inv.OfType("aws_nat_gateway")
	m.lbs = inv.OfType("aws_lb")
	m.listeners = inv.OfType("aws_lb_listener")
	m.targetGroups = inv.OfType("aws_lb_target_group")
	m.groups = inv.Groups()
	m.zones = inv.OfType("aws_route53_zone")
	m.records = inv.OfType("aws_route53_record")
	m.efs = inv.OfType("aws_efs_file_system")
	m.mountTargets = inv.OfType("aws_efs_mount_target")
	m.buckets = inv.OfType("aws_s3_bucket")
	m.keys = inv.OfType("aws_kms_key")
	m.roles = inv.OfType("aws_iam_role")
	return m
}

// azs lists the availability zones of the subnets, sorted.
func (m *arch) azs() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range m.subnets {
		if az := s.String("availability_zone"); az != "" && !seen[az] {
			seen[az] = true
			out = append(out, az)
		}
	}
	sort.Strings(out)
	return out
}

// azOf places a subnet-bound resource (NAT gateway, mount target) in an
// availability zone: by its subnet id when known (state), else by its
// count index over the sorted zones (plan; kforge indexes them that way).
func (m *arch) azOf(r *inventory.Resource) string {
	if az := r.String("availability_zone_name"); az != "" {
		return az
	}
	if id := r.String("subnet_id"); id != "" {
		for _, s := range m.subnets {
			if s.String("id") == id {
				return s.String("availability_zone")
			}
		}
	}
	azs := m.azs()
	if n, ok := inventory.Number(r.Index); ok && int(n) < len(azs) {
		return azs[int(n)]
	}
	if len(azs) > 0 {
		return azs[0]
	}
	return ""
}

func (m *arch) drawVPC(d *dot) {
	vpcLabel := "VPC"
	if len(m.vpcs) > 0 {
		vpcLabel += " " + m.vpcs[0].String("cidr_block")
	}
	d.open("subgraph cluster_vpc")
	d.line("label=%s; style=rounded; color=\"#4a7ebb\"; fontsize=13", quote(vpcLabel))

	for _, lb := range m.lbs {
		d.node(lb.Address, "Network Load Balancer\n"+lb.String("name")+"\n"+m.listenerLines(lb), colourNetwork)
	}
	for _, g := range m.groups {
		d.node(g.ASG.Address, groupLabel(g), colourCompute)
	}
	for i, az := range m.azs() {
		d.open("subgraph cluster_az_%d", i)
		d.line("label=%s; style=\"rounded,filled\"; fillcolor=\"#fafcff\"; color=\"#9fb8d8\"", quote(az))
		for _, s := range m.subnets {
			if s.String("availability_zone") != az {
				continue
			}
			kind := "subnet"
			if strings.Contains(s.Name, "public") {
				kind = "public subnet"
			} else if strings.Contains(s.Name, "private") {
				kind = "private subnet"
			}
			d.node(s.Address, kind+"\n"+s.String("cidr_block"), "#ffffff", "shape=box", "style=\"filled\"", "color=\"#9fb8d8\"")
		}
		for _, n := range m.nats {
			if m.azOf(n) == az {
				d.node(n.Address, "NAT gateway", colourNetwork)
			}
		}
		for _, mt := range m.mountTargets {
			if m.azOf(mt) == az {
				d.node(mt.Address, "EFS mount target", colourStorage)
			}
		}
		d.close()
	}
	d.close()
}

func (m *arch) drawIAM(d *dot) {
	if len(m.roles) == 0 {
		return
	}
	d.open("subgraph cluster_iam")
	d.line("label=%s; style=rounded; color=\"#bbbbbb\"", quote("IAM"))
	for _, r := range m.roles {
		d.node(r.Address, "IAM role\n"+r.String("name"), colourSecure)
	}
	d.close()
}

func (m *arch) drawStorage(d *dot, opts Options) {
	d.open("subgraph cluster_storage")
	d.line("label=%s; style=rounded; color=\"#bbbbbb\"", quote("storage and encryption"))
	for _, fs := range m.efs {
		label := "EFS file system"
		if enc, _ := fs.Bool("encrypted"); enc {
			label += "\nencrypted"
		}
		d.node(fs.Address, label, colourStorage)
	}
	for _, b := range m.buckets {
		d.node(b.Address, bucketLabel(b), colourStorage)
	}
	if opts.StateBucket != "" {
		d.node("state-bucket", "S3 bucket (Terraform state)\n"+opts.StateBucket, colourStorage, "style=\"rounded,filled,dashed\"")
	}
	for _, k := range m.keys {
		d.node(k.Address, "KMS key\n"+wrap(orDash(k.String("description")), 28), colourSecure)
	}
	d.close()
}

// bucketLabel names the bucket and, for kforge's certs bucket, the
// prefixes nodes use (agent and config, join material, control-plane backups).
func bucketLabel(b *inventory.Resource) string {
	name := b.String("bucket")
	if strings.Contains(name, "-certs") || strings.Contains(b.Name, "certs") {
		return "S3 bucket (certs and bootstrap)\n" + name + "\nbootstrap/  workers/  controller/"
	}
	return "S3 bucket\n" + name
}

// wrap breaks a label at spaces so no line is much longer than width.
func wrap(s string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}

// nodeSubnets are the subnets nodes run in: private ones when there are
// any (NAT layout), else the public ones.
func (m *arch) nodeSubnets() []*inventory.Resource {
	var private, public []*inventory.Resource
	for _, s := range m.subnets {
		if strings.Contains(s.Name, "private") {
			private = append(private, s)
		} else {
			public = append(public, s)
		}
	}
	if len(private) > 0 {
		return private
	}
	return public
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func groupLabel(g inventory.Group) string {
	var b strings.Builder
	if g.Role == inventory.RoleController {
		b.WriteString("Control plane (ASG)\n")
	} else {
		fmt.Fprintf(&b, "Worker pool %s (ASG)\n", g.Pool)
	}
	fmt.Fprintf(&b, "min %d / desired %d / max %d\n", g.Min, g.Desired, g.Max)
	types := "instance type unknown"
	if len(g.InstanceTypes) > 0 {
		types = strings.Join(g.InstanceTypes, ", ")
	}
	b.WriteString(types)
	if g.VolumeGB > 0 {
		fmt.Fprintf(&b, ", %g GB %s", g.VolumeGB, g.VolumeType)
	}
	return b.String()
}

// pairs returns (listener port, target group port) for an NLB, pairing
// listeners with target groups by their shared for_each key, or by the
// target group ARN when the state knows it.
func (m *arch) pairs(lb *inventory.Resource) [][2]int {
	var out [][2]int
	for _, l := range m.listeners {
		if l.Module != lb.Module {
			continue
		}
		port, _ := l.Number("port")
		var tgPort float64
		action := l.Block("default_action")
		arn, _ := action["target_group_arn"].(string)
		for _, tg := range m.targetGroups {
			if tg.Module != l.Module {
				continue
			}
			if (arn != "" && tg.String("arn") == arn) || (arn == "" && tg.IndexKey() == l.IndexKey()) {
				tgPort, _ = tg.Number("port")
			}
		}
		out = append(out, [2]int{int(port), int(tgPort)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func (m *arch) listenerLines(lb *inventory.Resource) string {
	var lines []string
	for _, p := range m.pairs(lb) {
		lines = append(lines, fmt.Sprintf(":%d → node port %d", p[0], p[1]))
	}
	return strings.Join(lines, "\n")
}

func (m *arch) listenerPorts(lb *inventory.Resource) string {
	var ports []string
	for _, p := range m.pairs(lb) {
		ports = append(ports, fmt.Sprintf("%d", p[0]))
	}
	return "TCP " + strings.Join(ports, ", ")
}

func (m *arch) nodePorts(lb *inventory.Resource) string {
	var ports []string
	for _, p := range m.pairs(lb) {
		ports = append(ports, fmt.Sprintf("%d", p[1]))
	}
	return "TCP " + strings.Join(ports, ", ")
}

// recordsTo names, shortly, a zone's records that point at the NLB ("lb":
// alias records, e.g. "A apex, *") or at the API ("api": "A api").
func (m *arch) recordsTo(zone *inventory.Resource, what string) string {
	domain := strings.TrimSuffix(zone.String("name"), ".")
	var names []string
	for _, r := range m.records {
		if r.Module != zone.Module {
			continue
		}
		name := strings.TrimSuffix(r.String("name"), ".")
		isAPI := strings.HasPrefix(name, "api.")
		alias := r.Block("alias") != nil
		if !((what == "lb" && alias && !isAPI) || (what == "api" && isAPI)) {
			continue
		}
		short := strings.TrimSuffix(strings.TrimSuffix(name, domain), ".")
		if short == "" {
			short = "apex"
		}
		names = append(names, short)
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return "A " + strings.Join(names, ", ")
}

// roleServes links an IAM role to the ASG whose nodes assume it, by the
// role's resource name in the modules (aws_iam_role.controller, .worker):
// the role's own name holds the cluster's, which may hold either word.
func roleServes(role *inventory.Resource, g inventory.Group) bool {
	if g.Role == inventory.RoleController {
		return strings.HasSuffix(role.Address, ".controller")
	}
	return strings.HasSuffix(role.Address, ".worker")
}
