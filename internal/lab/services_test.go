package lab

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kforge/kforge/internal/awsx"
)

// TestServicesInsideTheVPC runs the emulator inside the lab VPC (the host
// reaches it through its loopback forward only), the VPC resolver answering
// from the emulator's Route 53, and an instance with its own IMDSv2. From
// inside the instance: the metadata service refuses a token-less request
// and answers this instance's id with a token; the production AWS CLI gets
// the role's credentials from it and reads an object from the emulator's
// S3; names resolve from the emulator's zones and nowhere else.
func TestServicesInsideTheVPC(t *testing.T) {
	l := newTestLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	defer func() {
		if err := l.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	emuAddr := netip.MustParseAddr("10.0.0.3")
	dnsAddr := netip.MustParseAddr("10.0.0.2")
	emu, err := l.StartEmulator(ctx, emuAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(emu.URL, "http://127.0.0.1:") {
		t.Fatalf("the host must reach the emulator through loopback, got %s", emu.URL)
	}
	cfg, err := awsx.Config(ctx, "us-east-1", emu.URL)
	if err != nil {
		t.Fatal(err)
	}
	s3c := awsx.S3Client(cfg, emu.URL)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lab-certs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lab-certs"), Key: aws.String("bootstrap/hello"), Body: strings.NewReader("from the emulator\n")}); err != nil {
		t.Fatal(err)
	}
	r53 := route53.NewFromConfig(cfg)
	zone, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("local.kforge.test"), CallerReference: aws.String("lab")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: zone.HostedZone.Id,
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert,
			ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String("api.local.kforge.test"), Type: "A", TTL: aws.Int64(60),
				ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("10.0.1.10")}}}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Net.AddAddress(ctx, dnsAddr); err != nil {
		t.Fatal(err)
	}
	res := NewResolver(Route53Zones(r53), time.Second)
	if err := res.ServeIn(l.Net.NS, dnsAddr.String()+":53"); err != nil {
		t.Fatal(err)
	}
	defer res.Close()

	inst, err := l.Boot(ctx, InstanceSpec{
		Index: 0, ID: "i-0ccccccccccccccc3", Hostname: "ip-10-0-1-10", IP: netip.MustParseAddr("10.0.1.10"),
		Files: map[string]File{"/etc/resolv.conf": {Data: []byte("nameserver " + dnsAddr.String() + "\n"), Mode: 0o644}},
		Metadata: &Metadata{InstanceID: "i-0ccccccccccccccc3", InstanceType: "t3.medium", AccountID: "123456789012",
			Region: "us-east-1", AvailabilityZone: "us-east-1a", PrivateIP: "10.0.1.10", Hostname: "ip-10-0-1-10.ec2.internal",
			Role: "lab-node", AccessKeyID: "ASIALABTEST000000001", SecretAccessKey: "s", SessionToken: "t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	const py = `import urllib.request as u, urllib.error as e
try:
    u.urlopen("http://169.254.169.254/latest/meta-data/instance-id", timeout=3); print("token-less answered")
except e.HTTPError as x:
    print("token-less", x.code)
tok = u.urlopen(u.Request("http://169.254.169.254/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=3).read().decode()
print(u.urlopen(u.Request("http://169.254.169.254/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": tok}), timeout=3).read().decode())`
	out, err := inst.Exec(ctx, "python3", "-c", py)
	if err != nil {
		t.Fatal(err)
	}
	if want := "token-less 401\ni-0ccccccccccccccc3"; strings.TrimSpace(out) != want {
		t.Errorf("metadata from inside the instance:\n%s\nwant:\n%s", out, want)
	}
	out, err = inst.Exec(ctx, "aws", "--region", "us-east-1", "--endpoint-url", emu.VPCURL, "s3", "cp", "s3://lab-certs/bootstrap/hello", "-")
	if err != nil || strings.TrimSpace(out) != "from the emulator" {
		t.Errorf("aws s3 cp from inside the instance with the role's credentials: %q, %v", out, err)
	}
	if out, err := inst.Exec(ctx, "getent", "hosts", "api.local.kforge.test"); err != nil || !strings.HasPrefix(out, "10.0.1.10 ") {
		t.Errorf("resolving the API name inside the instance: %q, %v", out, err)
	}
	if out, err := inst.Exec(ctx, "getent", "hosts", "example.com"); err == nil {
		t.Errorf("a name outside the lab's zones resolved inside the instance: %q", out)
	}
	if err := l.CheckIsolation(ctx); err != nil {
		t.Error(err)
	}
}
