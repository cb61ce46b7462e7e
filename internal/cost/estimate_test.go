package cost

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// planOf builds a minimal plan around resources, the way `terraform show
// -json` lays them out (numbers as float64, blocks as lists).
func planOf(vars map[string]any, resources ...*tfjson.StateResource) *tfjson.Plan {
	for _, r := range resources {
		r.Mode = tfjson.ManagedResourceMode
		r.Address = r.Type + "." + r.Name
	}
	p := &tfjson.Plan{
		FormatVersion: "1.2",
		Variables:     map[string]*tfjson.PlanVariable{},
		PlannedValues: &tfjson.StateValues{RootModule: &tfjson.StateModule{Resources: resources}},
	}
	for k, v := range vars {
		p.Variables[k] = &tfjson.PlanVariable{Value: v}
	}
	return p
}

func asg(name string, min, desired, max float64, lt string, tags map[string]string) *tfjson.StateResource {
	var tagBlocks []any
	for k, v := range tags {
		tagBlocks = append(tagBlocks, map[string]any{"key": k, "value": v, "propagate_at_launch": true})
	}
	return &tfjson.StateResource{Type: "aws_autoscaling_group", Name: name, AttributeValues: map[string]any{
		"name": name, "min_size": min, "desired_capacity": desired, "max_size": max,
		"launch_template": []any{map[string]any{"name": lt}},
		"tag":             tagBlocks,
	}}
}

func launchTemplate(name, typ string, gb float64, volType string, iops float64) *tfjson.StateResource {
	ebs := map[string]any{"volume_size": gb, "volume_type": volType}
	if iops > 0 {
		ebs["iops"] = iops
	}
	return &tfjson.StateResource{Type: "aws_launch_template", Name: name, AttributeValues: map[string]any{
		"name": name, "instance_type": typ,
		"block_device_mappings": []any{map[string]any{"device_name": "/dev/xvda", "ebs": []any{ebs}}},
	}}
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.005 }

func lineFor(t *testing.T, e *Estimate, service, itemPart string) Line {
	t.Helper()
	for _, l := range e.Lines {
		if l.Service == service && strings.Contains(l.Item, itemPart) {
			return l
		}
	}
	t.Fatalf("no %s line containing %q in %+v", service, itemPart, e.Lines)
	return Line{}
}

func TestEstimateRules(t *testing.T) {
	us := map[string]any{"region": "us-east-1", "environment": "dev"}
	pt, err := Prices("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	h := 730.0

	tests := []struct {
		name  string
		plan  *tfjson.Plan
		check func(t *testing.T, e *Estimate)
	}{
		{
			name: "worker pool priced from desired to max with its root volumes",
			plan: planOf(us,
				asg("w", 1, 2, 5, "w-lt", map[string]string{"kforge.io/pool": "general"}),
				launchTemplate("w-lt", "t3.large", 40, "gp3", 0)),
			check: func(t *testing.T, e *Estimate) {
				ec2 := lineFor(t, e, "EC2", "pool general: 2..5 × t3.large")
				if want := (Range{2 * h * pt.EC2Hourly["t3.large"], 5 * h * pt.EC2Hourly["t3.large"]}); !near(ec2.Monthly.Low, want.Low) || !near(ec2.Monthly.High, want.High) {
					t.Errorf("EC2 = %+v, want %+v", ec2.Monthly, want)
				}
				ebs := lineFor(t, e, "EBS", "40 GB gp3")
				if !near(ebs.Monthly.High, 5*40*pt.EBSGBMonth["gp3"]) {
					t.Errorf("EBS high = %v", ebs.Monthly.High)
				}
				if !near(e.Total.Low, ec2.Monthly.Low+ebs.Monthly.Low) {
					t.Errorf("total %v != sum of lines", e.Total)
				}
			},
		},
		{
			name: "unknown instance type is an explicit no-price line, not a zero",
			plan: planOf(us,
				asg("w", 1, 1, 1, "w-lt", nil),
				launchTemplate("w-lt", "x9.mega", 30, "gp3", 0)),
			check: func(t *testing.T, e *Estimate) {
				l := lineFor(t, e, "EC2", "x9.mega")
				if l.Priced || !strings.Contains(l.NoPrice, "x9.mega") {
					t.Errorf("line = %+v, want unpriced naming the type", l)
				}
				if e.Unpriced != 1 {
					t.Errorf("unpriced = %d, want 1", e.Unpriced)
				}
				if text := textOf(t, e); !strings.Contains(text, "no price: aws_autoscaling_group.w") {
					t.Errorf("text does not list the unpriced item:\n%s", text)
				}
			},
		},
		{
			name: "gp3 IOPS above the free 3000 are charged",
			plan: planOf(us,
				asg("w", 1, 1, 1, "w-lt", nil),
				launchTemplate("w-lt", "t3.small", 100, "gp3", 4000)),
			check: func(t *testing.T, e *Estimate) {
				l := lineFor(t, e, "EBS", "100 GB gp3")
				if want := 100*pt.EBSGBMonth["gp3"] + 1000*pt.EBSGP3IOPSMonth; !near(l.Monthly.Low, want) {
					t.Errorf("EBS = %v, want %v", l.Monthly.Low, want)
				}
			},
		},
		{
			name: "EKS comparison drops the controller and adds the control-plane fee",
			plan: planOf(us,
				asg("ctl", 1, 1, 1, "ctl-lt", map[string]string{"kforge.io/role": "controller"}),
				launchTemplate("ctl-lt", "t3.medium", 30, "gp3", 0),
				asg("w", 1, 1, 3, "w-lt", nil),
				launchTemplate("w-lt", "t3.medium", 30, "gp3", 0),
				&tfjson.StateResource{Type: "aws_kms_key", Name: "k", AttributeValues: map[string]any{}}),
			check: func(t *testing.T, e *Estimate) {
				ctl := h*pt.EC2Hourly["t3.medium"] + 30*pt.EBSGBMonth["gp3"]
				if !near(e.EKS.ControllerRemove.Low, ctl) {
					t.Errorf("controller removed = %v, want %v", e.EKS.ControllerRemove, ctl)
				}
				if want := e.Total.High - ctl + 73; !near(e.EKS.Total.High, want) {
					t.Errorf("EKS high = %v, want %v", e.EKS.Total.High, want)
				}
				if lineFor(t, e, "EC2", "controller").Controller != true {
					t.Error("controller line not marked")
				}
			},
		},
		{
			name: "fixed-price services and stated assumptions",
			plan: planOf(map[string]any{"region": "eu-west-1", "az_count": float64(3)},
				&tfjson.StateResource{Type: "aws_lb", Name: "nlb", AttributeValues: map[string]any{"load_balancer_type": "network", "internal": false}},
				&tfjson.StateResource{Type: "aws_nat_gateway", Name: "nat", AttributeValues: map[string]any{}},
				&tfjson.StateResource{Type: "aws_efs_file_system", Name: "fs", AttributeValues: map[string]any{}},
				&tfjson.StateResource{Type: "aws_route53_zone", Name: "z", AttributeValues: map[string]any{"name": "dev.example.com"}},
				&tfjson.StateResource{Type: "aws_s3_bucket", Name: "b", AttributeValues: map[string]any{}},
				&tfjson.StateResource{Type: "aws_subnet", Name: "s", AttributeValues: map[string]any{}},
				&tfjson.StateResource{Type: "aws_cloudwatch_log_group", Name: "logs", AttributeValues: map[string]any{}}),
			check: func(t *testing.T, e *Estimate) {
				eu, _ := Prices("eu-west-1")
				a := DefaultAssumptions()
				checks := map[string]float64{
					"network load balancer":        h*eu.NLBHourly + a.NLBDataGB*eu.NLBLCUHourly,
					"NLB: 3 × public IPv4 address": 3 * h * eu.PublicIPv4Hourly,
					"NAT gateway":                  h*eu.NATGatewayHourly + a.NATDataGB*eu.NATGatewayGB,
					"EFS Standard":                 a.EFSStorageGB * eu.EFSStandardGBMonth,
					"hosted zone dev.example.com":  eu.Route53ZoneMonth,
					"bucket":                       a.S3StorageGB * eu.S3StandardGBMonth,
				}
				for part, want := range checks {
					found := false
					for _, l := range e.Lines {
						if strings.Contains(l.Item, part) {
							found = true
							if !l.Priced || !near(l.Monthly.Low, want) {
								t.Errorf("%s: %+v, want %.4f", part, l, want)
							}
						}
					}
					if !found {
						t.Errorf("no line for %s", part)
					}
				}
				if lineFor(t, e, "CloudWatch", "log_group").Priced {
					t.Error("log group must be an explicit no-price line")
				}
				for _, l := range e.Lines {
					if strings.Contains(l.Item, "aws_subnet") {
						t.Error("free subnet listed as a cost line")
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := FromPlan(tt.plan, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, e)
			var buf bytes.Buffer
			if err := e.WriteJSON(&buf); err != nil {
				t.Fatal(err)
			}
			var back Estimate
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
				t.Fatalf("JSON output does not decode: %v", err)
			}
			if !near(back.Total.High, e.Total.High) {
				t.Errorf("JSON total %v != %v", back.Total, e.Total)
			}
		})
	}
}

func TestEstimateErrors(t *testing.T) {
	tests := []struct {
		name string
		plan *tfjson.Plan
		want string
	}{
		{"no region", planOf(nil), "no region"},
		{"region without a price table", planOf(map[string]any{"region": "mars-north-1"}), "internal/cost/prices/mars-north-1.json"},
		{"no planned values", &tfjson.Plan{FormatVersion: "1.2"}, "planned_values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromPlan(tt.plan, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestPriceTables keeps the regions' tables complete and comparable.
func TestPriceTables(t *testing.T) {
	regions := Regions()
	for _, want := range []string{"us-east-1", "eu-west-1", "ap-southeast-1"} {
		if !contains(regions, want) {
			t.Errorf("no price table for %s", want)
		}
	}
	base, err := Prices("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regions {
		pt, err := Prices(r)
		if err != nil {
			t.Fatal(err)
		}
		if pt.AsOf == "" || pt.Source == "" || pt.Currency != "USD" {
			t.Errorf("%s: as_of, source and currency must be stated", r)
		}
		if keys(pt.EC2Hourly) != keys(base.EC2Hourly) || keys(pt.EBSGBMonth) != keys(base.EBSGBMonth) {
			t.Errorf("%s: instance or volume types differ from us-east-1's", r)
		}
		for typ, v := range pt.EC2Hourly {
			if v <= 0 {
				t.Errorf("%s: %s price %v", r, typ, v)
			}
		}
		for name, v := range map[string]float64{
			"nlb_hourly": pt.NLBHourly, "nlb_lcu_hourly": pt.NLBLCUHourly, "nat_gateway_hourly": pt.NATGatewayHourly,
			"public_ipv4_hourly": pt.PublicIPv4Hourly, "efs_standard_gb_month": pt.EFSStandardGBMonth,
			"kms_key_month": pt.KMSKeyMonth, "route53_zone_month": pt.Route53ZoneMonth,
			"s3_standard_gb_month": pt.S3StandardGBMonth, "eks_control_plane_hourly": pt.EKSControlPlaneHourly,
			"inter_az_gb":               pt.InterAZGB,
			"cpu_credit_vcpu_hourly.t3": pt.CPUCreditVCPUHourly["t3"], "cpu_credit_vcpu_hourly.t3a": pt.CPUCreditVCPUHourly["t3a"],
			"cpu_credit_vcpu_hourly.t4g": pt.CPUCreditVCPUHourly["t4g"],
		} {
			if v <= 0 {
				t.Errorf("%s: %s is %v", r, name, v)
			}
		}
		// Optional: a region without the rate leaves flow logs unpriced.
		if pt.VendedLogsS3GB < 0 {
			t.Errorf("%s: vended_logs_s3_gb is %v", r, pt.VendedLogsS3GB)
		}
	}
}

func keys(m map[string]float64) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
