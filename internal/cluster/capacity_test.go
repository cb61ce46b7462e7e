package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/exitcode"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

func quotaTestCluster() *config.Cluster {
	return &config.Cluster{
		Region:       "eu-west-1",
		ControlPlane: config.ControlPlane{InstanceType: "t3.medium"},
		WorkerPools: map[string]config.WorkerPool{
			"general": {InstanceTypes: []string{"t3.medium", "m5.xlarge"}, Max: 3, Capacity: config.CapacityOnDemand},
			"batch":   {InstanceTypes: []string{"c5.large"}, Max: 10, Capacity: config.CapacitySpot, OnDemandBase: 1},
			"memory":  {InstanceTypes: []string{"x2gd.large"}, Max: 2, Capacity: config.CapacityOnDemand},
			"idle":    {InstanceTypes: []string{"m5.large"}, Max: 0, Capacity: config.CapacityOnDemand},
		},
	}
}

func TestClusterVCPUNeed(t *testing.T) {
	vcpus := map[string]int{"t3.medium": 2, "m5.xlarge": 4, "c5.large": 2, "m5.large": 2}
	got := ClusterVCPUNeed(quotaTestCluster(), vcpus)
	want := VCPUNeed{
		// The control plane, general at 3 of its largest type, batch's
		// on-demand base.
		OnDemand:      2 + 3*4 + 1*2,
		Spot:          9 * 2,
		OnDemandParts: []string{"control plane t3.medium: 2", "pool batch: 1 × 2", "pool general: 3 × 4"},
		SpotParts:     []string{"pool batch: 9 × 2"},
		Unchecked:     []string{"x2gd.large"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("need:\n got %+v\nwant %+v", got, want)
	}
}

func TestStandardFamily(t *testing.T) {
	for typ, want := range map[string]bool{
		"t3.medium": true, "m7g.large": true, "c6i.xlarge": true, "r8g.large": true, "i4i.large": true,
		"d3.xlarge": true, "z1d.large": true, "a1.large": true, "hpc7g.4xlarge": false,
		"x2gd.large": false, "u-6tb1.56xlarge": false, "": false,
	} {
		if got := standardFamily(typ); got != want {
			t.Errorf("standardFamily(%q) = %v, want %v", typ, got, want)
		}
	}
}

// moto publishes no EC2 quota (its Service Quotas knows only VPC's), as a
// region without the quota would: nothing is compared and nothing fails,
// so a local up stays quiet. Its DescribeInstanceTypes is the real table.
func TestCheckVCPUQuotasAgainstEmulator(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	vcpus, err := instanceVCPUs(ctx, ec2.NewFromConfig(cfg), standardTypes(quotaTestCluster()))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"t3.medium": 2, "m5.xlarge": 4, "c5.large": 2, "m5.large": 2}; !reflect.DeepEqual(vcpus, want) {
		t.Errorf("vCPUs from DescribeInstanceTypes = %v, want %v", vcpus, want)
	}
	short, err := CheckVCPUQuotas(ctx, ec2.NewFromConfig(cfg), servicequotas.NewFromConfig(cfg), quotaTestCluster())
	if err != nil || len(short) != 0 {
		t.Errorf("CheckVCPUQuotas on the emulator = %v, %v; want nothing, no error", short, err)
	}
	// What up and plan print: no warning, and a note naming the type of
	// another quota class.
	ui := &recordingUI{}
	e := &Env{Name: "dev", Config: quotaTestCluster(), awsCfg: &cfg, opts: Options{UI: ui}}
	e.warnVCPUQuotas(ctx)
	want := "note: x2gd.large count against the vCPU quotas of their own classes (X, U or HPC), which kforge does not compare\n"
	if len(ui.notes) != 1 || ui.notes[0] != want {
		t.Errorf("warnVCPUQuotas printed %q, want only %q", ui.notes, want)
	}
}

// quotaServices names the service of each quota code kforge reads.
var quotaServices = map[string]string{
	QuotaStandardOnDemand: "ec2", QuotaStandardSpot: "ec2", QuotaElasticIPs: "ec2",
	QuotaVPCs: "vpc", QuotaInternetGateways: "vpc", QuotaNATGatewaysPerZone: "vpc", QuotaGatewayEndpoints: "vpc",
}

// fakeServiceQuotas answers GetServiceQuota in Service Quotas' JSON
// protocol from a table (code → applied value); a code not in it is
// NoSuchResource, a request naming another service than the code's is a
// bad request, and deny answers AccessDenied to all. It proves what kforge
// sends and how it reads the answers, not AWS's values.
func fakeServiceQuotas(t *testing.T, applied map[string]float64, deny bool) *servicequotas.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ ServiceCode, QuotaCode string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.ServiceCode != quotaServices[in.QuotaCode] {
			http.Error(w, fmt.Sprintf("bad request %+v: %v", in, err), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		v, ok := applied[in.QuotaCode]
		switch {
		case !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".GetServiceQuota"):
			http.Error(w, "unexpected operation "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
		case deny:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"AccessDeniedException","Message":"not authorized to perform servicequotas:GetServiceQuota"}`)
		case !ok:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"NoSuchResourceException","Message":"no such quota"}`)
		default:
			fmt.Fprintf(w, `{"Quota":{"ServiceCode":%q,"QuotaCode":%q,"QuotaName":"quota %s","Value":%g}}`, in.ServiceCode, in.QuotaCode, in.QuotaCode, v)
		}
	}))
	t.Cleanup(srv.Close)
	return servicequotas.New(servicequotas.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
	})
}

func TestCheckVCPUQuotasShortfall(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	types := ec2.NewFromConfig(cfg)
	c := quotaTestCluster()

	// A new account: on-demand at 5 vCPUs, spot at 16.
	short, err := CheckVCPUQuotas(ctx, types, fakeServiceQuotas(t, map[string]float64{QuotaStandardOnDemand: 5, QuotaStandardSpot: 16}, false), c)
	if err != nil {
		t.Fatal(err)
	}
	want := []QuotaShortfall{
		{Code: QuotaStandardOnDemand, Name: "quota " + QuotaStandardOnDemand, Need: 16, Quota: 5, Parts: []string{"control plane t3.medium: 2", "pool batch: 1 × 2", "pool general: 3 × 4"}},
		{Code: QuotaStandardSpot, Name: "quota " + QuotaStandardSpot, Need: 18, Quota: 16, Parts: []string{"pool batch: 9 × 2"}},
	}
	if !reflect.DeepEqual(short, want) {
		t.Fatalf("shortfalls:\n got %+v\nwant %+v", short, want)
	}
	w := short[0].Warning("dev", "eu-west-1")
	for _, part := range []string{"dev needs up to 16 vCPUs", "quota of 5 in eu-west-1 (L-1216C47A)", "VcpuLimitExceeded", "--quota-code L-1216C47A --desired-value 16"} {
		if !strings.Contains(w, part) {
			t.Errorf("warning lacks %q: %s", part, w)
		}
	}

	// Enough of both: nothing to say. A quota equal to the need is enough.
	// A region that does not publish a quota: not compared.
	if short, err := CheckVCPUQuotas(ctx, types, fakeServiceQuotas(t, map[string]float64{QuotaStandardOnDemand: 16, QuotaStandardSpot: 640}, false), c); err != nil || len(short) != 0 {
		t.Errorf("with enough quota: %v, %v", short, err)
	}
	if short, err := CheckVCPUQuotas(ctx, types, fakeServiceQuotas(t, map[string]float64{QuotaStandardSpot: 1}, false), c); err != nil || len(short) != 1 || short[0].Code != QuotaStandardSpot {
		t.Errorf("with no on-demand quota published: %v, %v; want the spot shortfall only", short, err)
	}

	// A caller without servicequotas permissions: an error naming the
	// quota, which up turns into a note.
	if _, err := CheckVCPUQuotas(ctx, types, fakeServiceQuotas(t, nil, true), c); err == nil || !strings.Contains(err.Error(), QuotaStandardOnDemand) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("denied read: err = %v, want one naming %s and AccessDenied", err, QuotaStandardOnDemand)
	}
}

// Other instances in the region share the quotas: the pending and running
// ones of the standard classes count against them, On-Demand and Spot
// apart, each at its type's vCPUs; the cluster's own (its tag), stopped
// ones and other classes do not.
func TestCheckVCPUQuotasCountsTheRegionsOtherInstances(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	api := ec2.NewFromConfig(cfg)
	c := quotaTestCluster()
	c.Name = "dev"
	images, err := api.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
	if err != nil || len(images.Images) == 0 {
		t.Fatalf("an image to launch: %v, %v", images, err)
	}
	launch := func(typ string, n int32, spot bool, cluster string) []string {
		t.Helper()
		in := &ec2.RunInstancesInput{ImageId: images.Images[0].ImageId, InstanceType: ec2types.InstanceType(typ), MinCount: aws.Int32(n), MaxCount: aws.Int32(n)}
		if spot {
			in.InstanceMarketOptions = &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot}
		}
		in.TagSpecifications = clusterTags(ec2types.ResourceTypeInstance, cluster)
		out, err := api.RunInstances(ctx, in)
		if err != nil {
			t.Fatalf("launching %d %s: %v", n, typ, err)
		}
		var ids []string
		for _, i := range out.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
		return ids
	}
	launch("m5.xlarge", 2, false, "")       // 8 vCPUs On-Demand
	launch("c5.large", 1, true, "")         // 2 vCPUs Spot
	launch("t3.large", 1, false, "staging") // another cluster's: 2 vCPUs On-Demand
	launch("t3.medium", 3, false, "dev")    // this cluster's own, in its need already
	launch("x2gd.large", 1, false, "")      // a quota class of its own
	stopped := launch("m5.2xlarge", 1, false, "")
	if _, err := api.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: stopped}); err != nil {
		t.Fatal(err)
	}

	use, err := RegionVCPUsOutside(ctx, api, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if want := (VCPUUse{OnDemand: 10, Spot: 2}); use != want {
		t.Errorf("the region's other instances run %+v, want %+v", use, want)
	}

	// The cluster needs 16 On-Demand and 18 Spot vCPUs at its max
	// (TestCheckVCPUQuotasShortfall): with the others' 10 and 2, quotas of
	// 25 and 19 are short; 26 and 20 are just enough.
	short, err := CheckVCPUQuotas(ctx, api, fakeServiceQuotas(t, map[string]float64{QuotaStandardOnDemand: 25, QuotaStandardSpot: 19}, false), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(short) != 2 || short[0].Need != 16 || short[0].Others != 10 || short[1].Need != 18 || short[1].Others != 2 {
		t.Fatalf("shortfalls %+v, want On-Demand 16 + 10 and Spot 18 + 2", short)
	}
	w := short[0].Warning("dev", "eu-west-1")
	for _, part := range []string{"dev needs up to 16 vCPUs", "the region's other instances already run 10 of the account's quota of 25 in eu-west-1 (L-1216C47A)", "--desired-value 26"} {
		if !strings.Contains(w, part) {
			t.Errorf("warning lacks %q: %s", part, w)
		}
	}
	if short, err := CheckVCPUQuotas(ctx, api, fakeServiceQuotas(t, map[string]float64{QuotaStandardOnDemand: 26, QuotaStandardSpot: 20}, false), c); err != nil || len(short) != 0 {
		t.Errorf("with room for the cluster beside the others: %v, %v", short, err)
	}
}

// moto's offering tables are AWS's: in us-east-1 its zone us-east-1e
// (use1-az3) offers none of the current general-purpose families, but
// the older m4 and t2.
func TestCheckZoneOfferingsAgainstEmulator(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	api := ec2.NewFromConfig(cfg)
	ctx := context.Background()

	zones, err := ClusterZones(ctx, api, config.Network{AZCount: 6})
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"}
	if !slices.Equal(zones, all) {
		t.Fatalf("ClusterZones(6) = %v, want %v", zones, all)
	}
	if zones, _ := ClusterZones(ctx, api, config.Network{AZCount: 2}); !slices.Equal(zones, all[:2]) {
		t.Fatalf("ClusterZones(2) = %v, want the first two by name", zones)
	}
	// Excluded by ID: us-east-1b is use1-az1 on the emulator, so the next
	// zone by name takes its place.
	if zones, err := ClusterZones(ctx, api, config.Network{AZCount: 2, ExcludeZoneIDs: []string{"use1-az1"}}); err != nil || !slices.Equal(zones, []string{"us-east-1a", "us-east-1c"}) {
		t.Fatalf("ClusterZones(2, excluding use1-az1) = %v, %v; want us-east-1a, us-east-1c", zones, err)
	}
	// An ID of another region (or a typo) would be ignored by the
	// provider: it is refused, naming the field and the region's IDs.
	_, err = ClusterZones(ctx, api, config.Network{AZCount: 2, ExcludeZoneIDs: []string{"use1-az3", "usw2-az1"}})
	var ee *exitcode.Error
	if !errors.As(err, &ee) || ee.Code != exitcode.Usage || !strings.Contains(err.Error(), "network.excludeZoneIDs[1]: usw2-az1") || !strings.Contains(err.Error(), "use1-az6") {
		t.Fatalf("an unknown excluded ID: %v; want a usage error naming network.excludeZoneIDs[1] and the region's IDs", err)
	}

	c := &config.Cluster{
		Region:       "us-east-1",
		Network:      config.Network{AZCount: 6},
		ControlPlane: config.ControlPlane{InstanceType: "t3.medium"},
		WorkerPools: map[string]config.WorkerPool{
			"general": {InstanceTypes: []string{"m6i.large"}},
			// One type offered in every zone is enough for the group.
			"mixed": {InstanceTypes: []string{"t3.medium", "m4.large"}},
		},
	}
	gaps, err := CheckZoneOfferings(ctx, api, c)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, g := range gaps {
		fields = append(fields, g.Field)
		if !slices.Equal(g.Missing, []string{"us-east-1e"}) || g.Total() {
			t.Errorf("%s: missing from %v (total %v), want us-east-1e alone", g.Field, g.Missing, g.Total())
		}
	}
	if want := []string{"controlPlane.instanceType", "workerPools.general.instanceTypes"}; !slices.Equal(fields, want) {
		t.Fatalf("gaps in %v, want %v", fields, want)
	}
	msg := gaps[1].Message("us-east-1")
	for _, want := range []string{"workerPools.general.instanceTypes: none of m6i.large is offered in us-east-1e (use1-az3)", "launches in the other 5 only", "network.excludeZoneIDs: [use1-az3]", "describe-instance-type-offerings --region us-east-1 --location-type availability-zone --filters Name=instance-type,Values=m6i.large"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}

	// A group no zone of the cluster serves: trn1 is offered in neither of
	// us-east-1's first two zones.
	c.Network.AZCount = 2
	c.WorkerPools = map[string]config.WorkerPool{"train": {InstanceTypes: []string{"trn1.2xlarge"}}}
	gaps, err = CheckZoneOfferings(ctx, api, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 1 || !gaps[0].Total() || gaps[0].Field != "workerPools.train.instanceTypes" {
		t.Fatalf("gaps with azCount 2 = %+v, want the train pool's, in every zone", gaps)
	}
	if msg := gaps[0].Message("us-east-1"); !strings.Contains(msg, "could never launch an instance") || !strings.Contains(msg, "us-east-1a, us-east-1b") {
		t.Errorf("total gap's message:\n%s", msg)
	}
}

// up and plan only warn of a partial gap, refuse a group no zone serves
// with a usage error (exit 2) naming its field, and go on with a note when
// the offerings cannot be read.
func TestCheckCapacityRefusesAGroupNoZoneServes(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	c := &config.Cluster{
		Region:       "us-east-1",
		Network:      config.Network{AZCount: 6},
		ControlPlane: config.ControlPlane{InstanceType: "t3.medium"},
		WorkerPools:  map[string]config.WorkerPool{"general": {InstanceTypes: []string{"t3.medium"}, Max: 1}},
	}
	ui := &recordingUI{}
	e := &Env{Name: "prod", Config: c, awsCfg: &cfg, opts: Options{UI: ui}}
	if err := e.checkCapacity(ctx); err != nil {
		t.Fatalf("a partial gap failed the command: %v", err)
	}
	if notes := strings.Join(ui.notes, ""); strings.Count(notes, "warning: ") != 2 || !strings.Contains(notes, "controlPlane.instanceType: none of t3.medium is offered in us-east-1e") {
		t.Errorf("want a warning for the control plane and the pool, got:\n%s", notes)
	}

	c.Network.AZCount = 2
	c.WorkerPools["train"] = config.WorkerPool{InstanceTypes: []string{"trn1.2xlarge"}, Max: 1}
	err := e.checkCapacity(ctx)
	var ee *exitcode.Error
	if !errors.As(err, &ee) || ee.Code != exitcode.Usage || !strings.HasPrefix(err.Error(), "workerPools.train.instanceTypes: none of trn1.2xlarge") {
		t.Fatalf("want a usage error naming workerPools.train.instanceTypes, got %v", err)
	}

	// An excluded zone the region does not have stops the command too.
	c.WorkerPools = map[string]config.WorkerPool{"general": {InstanceTypes: []string{"t3.medium"}, Max: 1}}
	c.Network.ExcludeZoneIDs = []string{"use1-az9"}
	if err := e.checkCapacity(ctx); !errors.As(err, &ee) || ee.Code != exitcode.Usage || !strings.HasPrefix(err.Error(), "network.excludeZoneIDs[0]: use1-az9") {
		t.Fatalf("want a usage error naming network.excludeZoneIDs[0], got %v", err)
	}
	// Leaving us-east-1e out (the zone the control plane's type lacks)
	// clears the warning.
	c.Network = config.Network{AZCount: 5, ExcludeZoneIDs: []string{"use1-az3"}}
	ui = &recordingUI{}
	e.opts.UI = ui
	if err := e.checkCapacity(ctx); err != nil {
		t.Fatalf("with use1-az3 excluded: %v", err)
	}
	if notes := strings.Join(ui.notes, ""); strings.Contains(notes, "warning: ") {
		t.Errorf("with use1-az3 excluded, want no zone warning, got:\n%s", notes)
	}

	// Unreadable offerings (the emulator is gone) are a note.
	if err := em.Stop(); err != nil {
		t.Fatal(err)
	}
	ui = &recordingUI{}
	e.opts.UI = ui
	if err := e.checkCapacity(ctx); err != nil {
		t.Fatalf("an unreadable offering failed the command: %v", err)
	}
	if notes := strings.Join(ui.notes, ""); !strings.Contains(notes, "note: the instance types' Availability Zones were not checked") {
		t.Errorf("want a note saying the zones were not checked, got:\n%s", notes)
	}
}
