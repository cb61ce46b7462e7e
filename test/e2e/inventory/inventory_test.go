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
	fs, err := c.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("fs")})
	if err != nil {
		t.Fatal(err)
	}
	ap := func(cluster string) string {
		t.Helper()
		out, err := c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: fs.FileSystemId, ClientToken: aws.String(cluster),
			Tags: []efstypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String(cluster)}}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.AccessPointId)
	}
	ours := ap("kforge-inv")
	ap("kforge-other")
	if _, err := c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: fs.FileSystemId}); err != nil {
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
