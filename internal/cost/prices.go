package cost

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// pricesFS holds one price table per region. Update them together and bump
// as_of when AWS changes a price.
//
//go:embed prices/*.json
var pricesFS embed.FS

// PriceTable is the on-demand price list of one region, in USD.
type PriceTable struct {
	Region   string `json:"region"`
	Currency string `json:"currency"`
	AsOf     string `json:"as_of"`
	Source   string `json:"source"`
	// EC2Hourly: Linux, shared tenancy, per instance-hour.
	EC2Hourly map[string]float64 `json:"ec2_hourly"`
	// EBSGBMonth: per provisioned GB-month by volume type.
	EBSGBMonth map[string]float64 `json:"ebs_gb_month"`
	// gp3 extras above the free 3000 IOPS and 125 MB/s.
	EBSGP3IOPSMonth       float64 `json:"ebs_gp3_iops_month"`
	EBSGP3ThroughputMonth float64 `json:"ebs_gp3_throughput_mbps_month"`
	NLBHourly             float64 `json:"nlb_hourly"`
	NLBLCUHourly          float64 `json:"nlb_lcu_hourly"`
	NATGatewayHourly      float64 `json:"nat_gateway_hourly"`
	NATGatewayGB          float64 `json:"nat_gateway_gb"`
	PublicIPv4Hourly      float64 `json:"public_ipv4_hourly"`
	EFSStandardGBMonth    float64 `json:"efs_standard_gb_month"`
	KMSKeyMonth           float64 `json:"kms_key_month"`
	Route53ZoneMonth      float64 `json:"route53_zone_month"`
	S3StandardGBMonth     float64 `json:"s3_standard_gb_month"`
	EKSControlPlaneHourly float64 `json:"eks_control_plane_hourly"`
	// CPUCreditVCPUHourly: surplus CPU credits of a burstable family in
	// unlimited mode, per vCPU-hour (Linux), by family (t3, t3a, t4g).
	CPUCreditVCPUHourly map[string]float64 `json:"cpu_credit_vcpu_hourly"`
	// InterAZGB: data transfer between Availability Zones of the region,
	// per GB in each direction.
	InterAZGB float64 `json:"inter_az_gb"`
	// VendedLogsS3GB: CloudWatch vended logs (VPC flow logs) delivered to
	// S3, per GB, first 10 TB a month; 0 when the table has no rate.
	VendedLogsS3GB float64 `json:"vended_logs_s3_gb,omitempty"`
	// SpotHourlyTypical: typical Spot prices per instance-hour, for
	// planning only (Spot prices move); SpotSource says how they were made.
	SpotHourlyTypical map[string]float64 `json:"spot_hourly_typical"`
	SpotAsOf          string             `json:"spot_as_of"`
	SpotSource        string             `json:"spot_source"`
}

// Regions lists the regions that have a price table.
func Regions() []string {
	entries, err := fs.ReadDir(pricesFS, "prices")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(out)
	return out
}

// Prices loads the embedded price table of a region.
func Prices(region string) (*PriceTable, error) {
	if region == "" {
		return nil, fmt.Errorf("no region: the plan sets no `region` variable; pass the region explicitly")
	}
	data, err := pricesFS.ReadFile(path.Join("prices", region+".json"))
	if err != nil {
		return nil, fmt.Errorf("no price table for region %q (have %s): add internal/cost/prices/%s.json",
			region, strings.Join(Regions(), ", "), region)
	}
	var pt PriceTable
	if err := json.Unmarshal(data, &pt); err != nil {
		return nil, fmt.Errorf("reading price table prices/%s.json: %w", region, err)
	}
	if pt.Region != region {
		return nil, fmt.Errorf("price table prices/%s.json says region %q", region, pt.Region)
	}
	return &pt, nil
}
