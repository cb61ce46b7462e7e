package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/smithy-go"

	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/sweep"
)

// TestKindsCoverSweep: the inventory looks at every kind the sweep deletes,
// under the same name, so a kind added to one and not the other shows here.
func TestKindsCoverSweep(t *testing.T) {
	for _, k := range sweep.Order {
		if !slices.Contains(Kinds, k) {
			t.Errorf("sweep deletes %s but the inventory does not look for it", k)
		}
	}
	for _, k := range Kinds {
		if k != KindObject && !slices.Contains(sweep.Order, k) {
			t.Errorf("the inventory looks for %s, which the sweep does not know", k)
		}
	}
}

// TestFindsAccessPointsOfADeletedFileSystem: the emulator deletes a file
// system that still has access points (AWS refuses) and keeps them; the
// inventory still finds the cluster's by their tag, and not another
// cluster's.
func TestFindsAccessPointsOfADeletedFileSystem(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	c := efs.NewFromConfig(cfg)
	fsID := aws.String(localawstest.CreateFileSystem(ctx, t, c, &efs.CreateFileSystemInput{CreationToken: aws.String("fs")}))
	ap := func(cluster string) string {
		t.Helper()
		out, err := c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: fsID, ClientToken: aws.String(cluster),
			Tags: []efstypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String(cluster)}}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.AccessPointId)
	}
	ours, other := ap("kforge-inv"), ap("kforge-other")
	// Under load the emulator's answer to a create can be lost, and the
	// SDK's retry make a second access point (moto ignores ClientToken,
	// which on AWS returns the first): only the two answered stay.
	all, err := c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{FileSystemId: fsID})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all.AccessPoints {
		if id := aws.ToString(a.AccessPointId); id != ours && id != other {
			if _, err := c.DeleteAccessPoint(ctx, &efs.DeleteAccessPointInput{AccessPointId: a.AccessPointId}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: fsID}); err != nil {
		t.Fatalf("the emulator refused to delete a file system with access points (then this test is moot): %v", err)
	}

	rep, err := Take(ctx, cfg, Target{Cluster: "kforge-inv", Endpoint: em.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Leftovers) != 1 || rep.Leftovers[0].Kind != sweep.KindAccessPoint || rep.Leftovers[0].ID != ours {
		t.Errorf("leftovers = %v, want only access point %s", rep.Leftovers, ours)
	}
	if rep.Scanned[sweep.KindAccessPoint] != 2 {
		t.Errorf("access points scanned = %d, want 2", rep.Scanned[sweep.KindAccessPoint])
	}
}

// A resource deleted between the listing and the read of its tags (another
// environment's down, in the same emulator) is no leftover; any other
// error still fails the scan.
func TestGoneSinceTheListing(t *testing.T) {
	for code, want := range map[string]bool{
		"NoSuchHostedZone":                        true,
		"NoSuchEntity":                            true,
		"NotFoundException":                       true,
		"AWS.SimpleQueueService.NonExistentQueue": true,
		"ResourceNotFoundException":               true,
		"AccessDenied":                            false,
		"Throttling":                              false,
	} {
		err := fmt.Errorf("reading: %w", &smithy.GenericAPIError{Code: code})
		if gone(err) != want {
			t.Errorf("gone(%s) = %v, want %v", code, !want, want)
		}
	}
	if gone(errors.New("connection refused")) {
		t.Error("a network error is not a deleted resource")
	}
}

// consider records a resource by its tags first, then its name, then the
// first reason the caller gives; every resource is counted. A tag read that
// finds the resource deleted counts it and records nothing; any other
// failed read fails the scan.
func TestConsider(t *testing.T) {
	s := &scan{t: Target{Cluster: "kf"}, prefix: "kf", rep: &Report{Scanned: map[string]int{}}, vpcs: map[string]bool{}}
	s.consider("k", "tagged", map[string]string{ClusterTag: "kf"}, "kf-x", "in cluster VPC")
	s.consider("k", "named", nil, "kf-x", "in cluster VPC")
	s.consider("k", "in-vpc", map[string]string{ClusterTag: "other"}, "other", "", "in cluster VPC", "description")
	s.consider("k", "other", map[string]string{ClusterTag: "other"}, "other", "", "")
	want := []Resource{
		{"k", "tagged", "tag " + ClusterTag},
		{"k", "named", "name kf-x"},
		{"k", "in-vpc", "in cluster VPC"},
	}
	if !slices.Equal(s.rep.Leftovers, want) || s.rep.Scanned["k"] != 4 {
		t.Errorf("leftovers = %v, scanned = %d; want %v, 4", s.rep.Leftovers, s.rep.Scanned["k"], want)
	}

	read := func(err error) func() (map[string]string, error) {
		return func() (map[string]string, error) { return map[string]string{ClusterTag: "kf"}, err }
	}
	for _, err := range []error{&smithy.GenericAPIError{Code: "NoSuchEntity"}, errDeleting} {
		if err := s.considerTagged("t", "gone", "kf-gone", read(err)); err != nil {
			t.Errorf("considerTagged of a deleted resource: %v", err)
		}
	}
	denied := &smithy.GenericAPIError{Code: "AccessDenied"}
	if err := s.considerTagged("t", "denied", "", read(denied)); !errors.Is(err, denied) {
		t.Errorf("considerTagged with AccessDenied = %v, want it wrapped", err)
	}
	if err := s.considerTagged("t", "ours", "", read(nil)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.rep.Leftovers); n != 4 || s.rep.Leftovers[3].ID != "ours" || s.rep.Scanned["t"] != 3 {
		t.Errorf("after the tag reads: leftovers = %v, scanned = %d; want ours added, 3 scanned", s.rep.Leftovers, s.rep.Scanned["t"])
	}
}
