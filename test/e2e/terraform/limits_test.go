package terraform

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// TestPlanWithinAWSLimits plans the whole stack with inputs at the edges of
// what kforge's validation takes (the longest cluster name and domain, and
// a pool whose tags, labels and taints fill its Auto Scaling group), and
// holds every planned resource to limits AWS enforces and the emulator
// does not: security group descriptions' characters, tags per resource,
// name prefixes and lengths, zone comments. Nothing is applied.
func TestPlanWithinAWSLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping a terraform plan in -short mode")
	}
	pluginDir := pluginDirOrSkip(t)
	terraformBin := terraformOrSkip(t)
	emu := localawstest.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	work := t.TempDir()
	vars := stageCluster(t, work, emu.URL())
	in := vars.Inputs
	in.ClusterName = "kforge-limits-abcdef" // 20 characters, the most kforge takes
	in.Domain = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 44) + ".org"
	in.Tags = map[string]string{}
	for i := range 30 {
		in.Tags[fmt.Sprintf("team-%02d", i)] = "x"
	}
	// The local example's first pool, filled: 30 tags, 7 labels (with the
	// capacity-type label kforge renders) and 2 taints are the 39 the root
	// module takes; with kforge's own the group carries 49 tags, and a roll
	// adds the 50th.
	pools := maps.Clone(in.WorkerPools)
	name := slices.Sorted(maps.Keys(pools))[0]
	pool := pools[name]
	pool.Labels = maps.Clone(pool.Labels)
	for i := len(pool.Labels); i < 7; i++ {
		pool.Labels[fmt.Sprintf("example.com/l%d", i)] = "x"
	}
	pool.Taints = []string{"a=b:PreferNoSchedule", "c=d:PreferNoSchedule"}
	pools[name] = pool
	in.WorkerPools = pools
	// stageCluster decoded every key of the inputs into config.Inputs
	// (unknown fields refused), so the edited struct is the whole file.
	encoded, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vars.path, encoded, 0o644); err != nil {
		t.Fatal(err)
	}

	tf := initLocalBackend(t, ctx, terraformBin, pluginDir, filepath.Join(work, "terraform", "cluster"))
	planFile := filepath.Join(work, "limits.tfplan")
	if _, err := tf.Plan(ctx, tfexec.VarFile(vars.path), tfexec.Out(planFile)); err != nil {
		t.Fatalf("terraform plan at the edges of kforge's validation: %v", err)
	}
	plan, err := tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		t.Fatalf("terraform show: %v", err)
	}
	problems := planLimitProblems(plan)
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d planned resources checked against AWS limits", len(plan.ResourceChanges))
}

// securityGroupDescription is what EC2 takes in a security group's or a
// rule's description (EC2 API Reference, IpRange.Description and
// CreateSecurityGroup GroupDescription).
var securityGroupDescription = regexp.MustCompile(`^[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}$`)

// tagLimits are the resource types that take fewer than the 50 tags most
// AWS resources take (S3 User Guide, "Categorizing your objects using tags";
// Route 53 API Reference, ResourceTagSet).
var tagLimits = map[string]int{"aws_s3_object": 10, "aws_route53_zone": 10}

// argumentRules are the length and pattern of arguments kforge derives from
// its inputs, from the services' API models (botocore's service-2.json:
// RoleName, PolicyName, InstanceProfileName, LaunchTemplateName, PutRule's
// Name, AliasName; SQS's and Elastic Load Balancing's from their guides).
var argumentRules = []struct {
	resource, attribute string
	max                 int
	pattern             *regexp.Regexp
}{
	{"aws_iam_role", "name", 64, regexp.MustCompile(`^[\w+=,.@-]+$`)},
	{"aws_iam_role", "description", 1000, regexp.MustCompile(`^[\x{09}\x{0A}\x{0D}\x{20}-\x{7E}\x{A1}-\x{FF}]*$`)},
	{"aws_iam_policy", "name", 128, regexp.MustCompile(`^[\w+=,.@-]+$`)},
	{"aws_iam_instance_profile", "name", 128, regexp.MustCompile(`^[\w+=,.@-]+$`)},
	{"aws_launch_template", "name", 128, regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,}$`)},
	{"aws_launch_template", "description", 255, nil},
	{"aws_cloudwatch_event_rule", "name", 64, regexp.MustCompile(`^[.\-_A-Za-z0-9]+$`)},
	{"aws_cloudwatch_event_rule", "description", 512, nil},
	{"aws_kms_alias", "name", 256, regexp.MustCompile(`^alias/[a-zA-Z0-9:/_-]+$`)},
	{"aws_sqs_queue", "name", 80, regexp.MustCompile(`^[A-Za-z0-9_-]+$`)},
	{"aws_lb", "name", 32, regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)},
	{"aws_lb_target_group", "name", 32, regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)},
}

// planLimitProblems lists every planned value that AWS would refuse.
func planLimitProblems(plan *tfjson.Plan) []string {
	var problems []string
	add := func(rc *tfjson.ResourceChange, format string, args ...any) {
		problems = append(problems, rc.Address+": "+fmt.Sprintf(format, args...))
	}
	for _, rc := range plan.ResourceChanges {
		after, ok := rc.Change.After.(map[string]any)
		if !ok {
			continue
		}
		str := func(key string) string { s, _ := after[key].(string); return s }
		if tags, ok := after["tags_all"].(map[string]any); ok {
			limit := 50
			if l, ok := tagLimits[rc.Type]; ok {
				limit = l
			}
			if len(tags) > limit {
				add(rc, "%d tags; AWS takes at most %d on a %s", len(tags), limit, rc.Type)
			}
		}
		for _, r := range argumentRules {
			if r.resource != rc.Type {
				continue
			}
			v, known := after[r.attribute].(string)
			if !known {
				continue
			}
			if len(v) > r.max || r.pattern != nil && !r.pattern.MatchString(v) {
				add(rc, "%s %q: AWS takes at most %d characters matching %v", r.attribute, v, r.max, r.pattern)
			}
		}
		switch rc.Type {
		case "aws_security_group", "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule":
			if d := str("description"); !securityGroupDescription.MatchString(d) {
				add(rc, "description %q has characters EC2 refuses (a-zA-Z0-9, space and ._-:/()#,@[]+=&;{}!$* only, at most 255)", d)
			}
			if rc.Type == "aws_security_group" && strings.HasPrefix(str("name"), "sg-") {
				add(rc, "name %q starts with sg-, which EC2 refuses", str("name"))
			}
		case "aws_autoscaling_group":
			// One tag left for the marker kforge roll sets on the group.
			if tags, _ := after["tag"].([]any); len(tags) > 49 {
				add(rc, "%d tags; EC2 Auto Scaling takes 50 and kforge roll adds one", len(tags))
			}
		case "aws_launch_template":
			specs, _ := after["tag_specifications"].([]any)
			for _, s := range specs {
				spec, _ := s.(map[string]any)
				if tags, _ := spec["tags"].(map[string]any); len(tags) > 50 {
					add(rc, "%d tags for each %v; EC2 takes 50", len(tags), spec["resource_type"])
				}
			}
		case "aws_lb":
			if n := str("name"); strings.HasPrefix(n, "internal-") {
				add(rc, "name %q: Elastic Load Balancing refuses a name starting with internal-", n)
			}
		case "aws_s3_bucket":
			if b := str("bucket"); len(b) > 63 || strings.HasPrefix(b, "sthree-") || strings.HasPrefix(b, "amzn-s3-demo-") || strings.HasPrefix(b, "xn--") {
				add(rc, "bucket name %q: S3 takes 63 characters and reserves xn--, sthree- and amzn-s3-demo-", b)
			}
		case "aws_route53_zone":
			if c := str("comment"); len(c) > 256 {
				add(rc, "comment of %d characters; Route 53 takes 256", len(c))
			}
		}
	}
	return problems
}

// TestPlanLimitProblemsFlagsWhatAWSRefuses feeds the checker one planned
// resource per rule, each with a value AWS refuses, and one it takes.
func TestPlanLimitProblemsFlagsWhatAWSRefuses(t *testing.T) {
	tags := func(n int) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprint("t", i)] = "x"
		}
		return m
	}
	refused := map[string]map[string]any{
		"aws_vpc_security_group_egress_rule": {"description": "HTTPS: Let's Encrypt"},
		"aws_security_group":                 {"name": "sg-demo-workers", "description": "kforge demo: workers"},
		"aws_s3_object":                      {"tags_all": tags(11)},
		"aws_route53_zone":                   {"comment": strings.Repeat("c", 257)},
		"aws_vpc":                            {"tags_all": tags(51)},
		"aws_autoscaling_group":              {"tag": make([]any, 50)},
		"aws_launch_template":                {"name": "demo workers", "tag_specifications": []any{map[string]any{"resource_type": "instance", "tags": tags(51)}}},
		"aws_lb":                             {"name": "internal-demo-ingress"},
		"aws_lb_target_group":                {"name": strings.Repeat("t", 33)},
		"aws_s3_bucket":                      {"bucket": "sthree-demo-certs"},
		"aws_iam_role":                       {"name": strings.Repeat("r", 65), "description": "nodes → API"},
		"aws_iam_policy":                     {"name": "demo policy"},
		"aws_iam_instance_profile":           {"name": "demo/profile"},
		"aws_cloudwatch_event_rule":          {"name": "demo:rule"},
		"aws_kms_alias":                      {"name": "alias/demo key"},
		"aws_sqs_queue":                      {"name": "demo.events"},
	}
	for typ, after := range refused {
		plan := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{{Address: typ + ".x", Type: typ, Change: &tfjson.Change{After: after}}}}
		if got := planLimitProblems(plan); len(got) == 0 {
			t.Errorf("%s %v: no problem found", typ, after)
		}
	}
	taken := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		{Address: "aws_s3_object.x", Type: "aws_s3_object", Change: &tfjson.Change{After: map[string]any{"tags_all": tags(10)}}},
		{Address: "aws_iam_role.x", Type: "aws_iam_role", Change: &tfjson.Change{After: map[string]any{"name": "demo-controller", "description": "kforge demo: control-plane nodes"}}},
		{Address: "aws_vpc_security_group_egress_rule.x", Type: "aws_vpc_security_group_egress_rule", Change: &tfjson.Change{After: map[string]any{"description": "HTTPS: registries, ACME (LetsEncrypt), AWS APIs"}}},
	}}
	if got := planLimitProblems(taken); len(got) != 0 {
		t.Errorf("values AWS takes reported: %v", got)
	}
}
