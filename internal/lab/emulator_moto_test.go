package lab

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws"
)

// startMoto runs a moto_server on loopback, with the lab's correction or
// unmodified, and returns an AWS configuration for it.
func startMoto(t *testing.T, corrected bool) aws.Config {
	t.Helper()
	ctx := context.Background()
	opts := localaws.Options{}
	if corrected {
		dir := t.TempDir()
		py, args, err := CorrectedMoto(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		// localaws starts one executable: a two-line wrapper around the
		// interpreter and the correction.
		opts.Binary = filepath.Join(dir, "moto_server_corrected")
		script := "#!/bin/sh\nexec '" + py + "' '" + strings.Join(args, "' '") + "' \"$@\"\n"
		if err := os.WriteFile(opts.Binary, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e, err := localaws.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting moto_server: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	cfg, err := awsx.Config(ctx, "us-east-1", e.URL())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// launchFromVersion2 creates a template whose version 2 carries user data,
// has an Auto Scaling group launch an instance from version 2 (the path a
// roll's replacement takes) and returns the user data it reads back from
// the instance.
func launchFromVersion2(t *testing.T, cfg aws.Config, userData string) (string, error) {
	t.Helper()
	ctx := context.Background()
	client := ec2.NewFromConfig(cfg)
	imgs, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(imgs.Images) == 0 {
		t.Fatalf("the emulator's images: %v (%d)", err, len(imgs.Images))
	}
	image := aws.ToString(imgs.Images[0].ImageId)
	lt, err := client.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("lab-correction"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(image), InstanceType: ec2types.InstanceTypeT3Medium,
			UserData: aws.String(base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho version 1\n")))},
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplate: %v", err)
	}
	id := lt.LaunchTemplate.LaunchTemplateId
	v2, err := client.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId: id, SourceVersion: aws.String("1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT3Large,
			UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(userData)))},
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplateVersion: %v", err)
	}
	// Version 2, or 3 when the SDK retried a request the emulator had
	// already served (it ignores ClientToken): a CI run under load once got
	// 3. Either is a version other than the first, which is what matters.
	n := aws.ToInt64(v2.LaunchTemplateVersion.VersionNumber)
	if n < 2 {
		t.Fatalf("the new version is %d, want 2 or later", n)
	}
	asg := autoscaling.NewFromConfig(cfg)
	if _, err := asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("lab-correction"), MinSize: aws.Int32(1), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(1),
		AvailabilityZones: []string{"us-east-1a"},
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: id, Version: aws.String(strconv.FormatInt(n, 10))},
	}); err != nil {
		return "", err
	}
	groups, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"lab-correction"}})
	if err != nil || len(groups.AutoScalingGroups) != 1 || len(groups.AutoScalingGroups[0].Instances) != 1 {
		t.Fatalf("the group's instance: %v %+v", err, groups)
	}
	attr, err := client.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{
		InstanceId: groups.AutoScalingGroups[0].Instances[0].InstanceId, Attribute: ec2types.InstanceAttributeNameUserData})
	if err != nil {
		t.Fatalf("DescribeInstanceAttribute userData: %v", err)
	}
	if attr.UserData == nil {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(attr.UserData.Value))
	if err != nil {
		t.Fatalf("the instance's user data is not base64: %v", err)
	}
	return string(raw), nil
}

// TestEmulatorCorrection: with the lab's correction, an instance an Auto
// Scaling group launches from a launch template's version 2 carries that
// version's user data; unmodified moto 5.2.1 answers the same
// CreateAutoScalingGroup with HTTP 500.
func TestEmulatorCorrection(t *testing.T) {
	if _, err := motoPython(context.Background()); err != nil {
		t.Skipf("skipping: %v", err)
	}
	want := "#!/bin/sh\necho version 2\n"
	t.Run("corrected", func(t *testing.T) {
		got, err := launchFromVersion2(t, startMoto(t, true), want)
		if err != nil {
			t.Fatalf("a group launching from version 2 with the correction: %v", err)
		}
		if got != want {
			t.Fatalf("the instance's user data is %q, want version 2's %q", got, want)
		}
	})
	t.Run("unmodified", func(t *testing.T) {
		_, err := launchFromVersion2(t, startMoto(t, false), want)
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
			var ae smithy.APIError
			errors.As(err, &ae)
			t.Fatalf("unmodified moto: a group launching from version 2 returned %v (%v); want HTTP 500, the bug the correction is for (if moto fixed it, drop the correction)", err, ae)
		}
	})
}

// TestEmulatorCorrectionRefuses: a moto other than the one the correction
// was written for, or a changed handler, stops the lab before it starts.
func TestEmulatorCorrectionRefuses(t *testing.T) {
	if _, err := motoPython(context.Background()); err != nil {
		t.Skipf("skipping: %v", err)
	}
	for name, edit := range map[string][2]string{
		"another moto":      {`MOTO_VERSION = "5.2.1"`, `MOTO_VERSION = "5.2.0"`},
		"a changed handler": {`HANDLER_SHA256 = "a42f`, `HANDLER_SHA256 = "0000`},
	} {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(string(motoCorrection), edit[0]) {
				t.Fatalf("the correction no longer has %q", edit[0])
			}
			src := strings.Replace(string(motoCorrection), edit[0], edit[1], 1)
			_, _, err := correctedMoto(context.Background(), t.TempDir(), []byte(src))
			if err == nil || !strings.Contains(err.Error(), "emulator correction not applied") {
				t.Fatalf("got %v, want a refusal", err)
			}
			t.Log(err)
		})
	}
}

// emptyBucketWithADeleteMarker does what `kforge down` meets in the certs
// bucket after a restore: a delete marker (the control plane deleted its
// restore request), versioning suspended (Terraform destroys the
// versioning first), then DeleteObjects of every version and marker.
func emptyBucketWithADeleteMarker(t *testing.T, cfg aws.Config) error {
	t.Helper()
	ctx := context.Background()
	c := awsx.S3Client(cfg, aws.ToString(cfg.BaseEndpoint))
	const bucket, key = "kforge-lab-markers", "controller/etcd/restore-from"
	steps := []func() error{
		func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
			return err
		},
		func() error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
				VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
			return err
		},
		func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("x")})
			return err
		},
		func() error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			return err
		},
		func() error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
				VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}})
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	versions, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []s3types.ObjectIdentifier
	for _, v := range versions.Versions {
		ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	for _, m := range versions.DeleteMarkers {
		ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
	}
	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &s3types.Delete{Objects: ids}})
	return err
}

// TestEmulatorCorrectsDeleteMarkers: with the lab's correction a bucket
// holding a delete marker empties after its versioning is suspended, as
// on AWS; unmodified moto 5.2.1 answers DeleteObjects with HTTP 500.
func TestEmulatorCorrectsDeleteMarkers(t *testing.T) {
	if _, err := motoPython(context.Background()); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if err := emptyBucketWithADeleteMarker(t, startMoto(t, true)); err != nil {
		t.Fatalf("with the correction: %v", err)
	}
	err := emptyBucketWithADeleteMarker(t, startMoto(t, false))
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Fatalf("unmodified moto: %v; want HTTP 500, the bug the correction is for (if moto fixed it, drop the correction)", err)
	}
}
