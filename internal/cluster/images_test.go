package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/exitcode"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// On the emulator: an image two groups share is read once and available;
// a deregistered image and one EC2 never had are gone, each a problem
// naming its groups and the fix; a malformed ID is an error, not "gone".
func TestImageStatusesAgainstEmulator(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	api := ec2.NewFromConfig(cfg)
	shared, deregistered := emulatorImages(t, api)
	const never = "ami-0123456789abcdef0"

	got, err := imageStatuses(ctx, api, map[string]string{"control-plane": shared, "general": shared, "spot": deregistered, "arm": never})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]ImageStatus{}
	for _, s := range got {
		byID[s.ID] = s
	}
	if len(got) != 3 {
		t.Fatalf("statuses %+v, want one for each of the 3 images", got)
	}
	if s := byID[shared]; !s.Launches() || !reflect.DeepEqual(s.Groups, []string{"control-plane", "general"}) || s.Name == "" {
		t.Errorf("shared image: %+v, want available, named, for control-plane and general", s)
	}
	for id, group := range map[string]string{deregistered: "spot", never: "arm"} {
		s := byID[id]
		if s.State != ImageGone || !reflect.DeepEqual(s.Groups, []string{group}) {
			t.Errorf("image %s: %+v, want gone, for %s", id, s, group)
		}
	}
	problems, notes := imageFindings(got, imageFix("dev", ""), time.Now())
	if len(problems) != 2 || len(notes) != 0 {
		t.Fatalf("problems %q, notes %q, want the two gone images' problems", problems, notes)
	}
	for _, p := range problems {
		if !strings.Contains(p, "deregistered") || !strings.Contains(p, "kforge roll dev --ami latest") {
			t.Errorf("problem %q names neither the cause nor the fix", p)
		}
	}

	if _, err := imageStatuses(ctx, api, map[string]string{"control-plane": "image-1"}); err == nil || !strings.Contains(err.Error(), "image-1") {
		t.Errorf("malformed ID: err = %v, want an error naming it", err)
	}

	// A roll reads only its groups' images, the control plane's under the
	// amis output's key, and refuses before any change when one is gone.
	ui := &recordingUI{}
	e, err := Open(ctx, "local", NeedEmulator, Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: aws.ToString(cfg.BaseEndpoint), UI: ui})
	if err != nil {
		t.Fatal(err)
	}
	out := &Outputs{AMIs: map[string]string{"controller": shared, "general": shared, "spot": deregistered}}
	if err := e.checkRollImages(ctx, api, out, map[string]string{ControlPlanePool: "g1", "general": "g2"}); err != nil {
		t.Errorf("roll of the control plane and general: %v, want no refusal", err)
	}
	err = e.checkRollImages(ctx, api, out, map[string]string{"general": "g2", "spot": "g3"})
	if err == nil || !strings.Contains(err.Error(), "nothing was replaced: image "+deregistered+" of spot cannot launch") || !strings.Contains(err.Error(), "set amiID in envs/local.yaml") {
		t.Errorf("roll of general and spot: %v, want a refusal naming spot's image and the amiID fix", err)
	}
	if len(ui.notes) != 0 {
		t.Errorf("notes %q, want none", ui.notes)
	}
}

// stateOutputs are the outputs of a state, as Terraform gives them.
type stateOutputs map[string]json.RawMessage

func (s stateOutputs) Outputs(context.Context) (map[string]json.RawMessage, error) { return s, nil }

// Plan and up read the state's images before the plan, on the emulator:
// an image that can no longer launch is a warning naming its group and
// the fix, with the plan still to come; with amiID they are not read (the
// apply moves every group to it, and amiID has its own refusal); the
// cluster key is read first and a key pending deletion refuses before any
// image is read; a state with no outputs (nothing applied yet) is nothing
// to check.
func TestCheckStateNamesImagesBeforeThePlan(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	shared, deregistered := emulatorImages(t, ec2.NewFromConfig(cfg))
	keys := kms.NewFromConfig(cfg)
	key, err := keys.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	ui := &recordingUI{}
	e, err := Open(ctx, "local", NeedEmulator, Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: aws.ToString(cfg.BaseEndpoint), UI: ui})
	if err != nil {
		t.Fatal(err)
	}
	e.Config.AMIID = "" // local pins one of the emulator's images; follow Amazon Linux releases
	state := func(amis map[string]string) stateOutputs {
		t.Helper()
		raw := stateOutputs{"kms_key_arn": json.RawMessage(strconv.Quote(aws.ToString(key.KeyMetadata.Arn)))}
		data, err := json.Marshal(amis)
		if err != nil {
			t.Fatal(err)
		}
		raw["amis"] = data
		return raw
	}

	images, err := e.checkState(ctx, state(map[string]string{"controller": shared, "general": shared}), false, false)
	if err != nil || len(images) != 1 || !images[0].Launches() || len(ui.notes) != 0 {
		t.Fatalf("state with an available image: %+v, %v, notes %q; want it read, and nothing said", images, err, ui.notes)
	}
	images, err = e.checkState(ctx, state(map[string]string{"controller": shared, "spot": deregistered}), false, false)
	if err != nil || len(images) != 2 {
		t.Fatalf("state with a deregistered image: %+v, %v; want both images and no refusal", images, err)
	}
	if len(ui.notes) != 1 || !strings.HasPrefix(ui.notes[0], "warning: image "+deregistered+" of spot cannot launch") || !strings.Contains(ui.notes[0], "`kforge roll local --ami latest`") {
		t.Errorf("notes %q, want the warning on spot's image with the roll that fixes it", ui.notes)
	}

	e.Config.AMIID = shared
	ui.notes = nil
	if images, err := e.checkState(ctx, state(map[string]string{"spot": deregistered}), false, false); err != nil || images != nil || len(ui.notes) != 0 {
		t.Errorf("state with amiID set: %+v, %v, notes %q; want no image read", images, err, ui.notes)
	}
	e.Config.AMIID = ""

	if images, err := e.checkState(ctx, stateOutputs{}, false, false); err != nil || images != nil {
		t.Errorf("state with no outputs: %+v, %v; want nothing checked", images, err)
	}

	if _, err := keys.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	ui.notes = nil
	images, err = e.checkState(ctx, state(map[string]string{"spot": deregistered}), false, false)
	if ExitCode(err) != ExitFailure || !strings.Contains(err.Error(), "pending deletion") || images != nil || len(ui.notes) != 0 {
		t.Errorf("key pending deletion: %+v, %v, notes %q; want the key's refusal and no image read", images, err, ui.notes)
	}
}

// The amis output keys the control plane by its Terraform group name;
// status and roll call it by its pool name.
func TestPoolImages(t *testing.T) {
	got := poolImages(&Outputs{AMIs: map[string]string{"controller": "ami-1", "general": "ami-2"}})
	if want := map[string]string{ControlPlanePool: "ami-1", "general": "ami-2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("poolImages = %v, want %v", got, want)
	}
}

// A deprecated image still launches (a note); a disabled or failed one
// does not (a problem); the fix follows amiID; validate counts the
// problem.
func TestImageFindings(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	images := []ImageStatus{
		{ID: "ami-1", Groups: []string{"controller"}, State: "available", DeprecationTime: "2026-12-01T00:00:00.000Z"},
		{ID: "ami-2", Groups: []string{"general"}, State: "available", DeprecationTime: "2027-06-01T00:00:00.000Z"},
		{ID: "ami-3", Groups: []string{"spot"}, State: "disabled"},
		{ID: "ami-4", Groups: []string{"batch"}, State: "available"},
	}
	problems, notes := imageFindings(images, imageFix("prod", "ami-3"), now)
	if len(problems) != 1 || !strings.Contains(problems[0], "image ami-3 of spot cannot launch instances: its state is disabled") || !strings.Contains(problems[0], "set amiID in envs/prod.yaml") {
		t.Errorf("problems %q, want ami-3's, with the amiID fix", problems)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "image ami-1 of controller has been deprecated since 2026-12-01") {
		t.Errorf("notes %q, want ami-1 deprecated, ami-2 not yet", notes)
	}
	if got := images[0].Line(now); got != "image ami-1 available (controller), deprecated since 2026-12-01T00:00:00.000Z" {
		t.Errorf("line %q", got)
	}

	r := ValidationResult{Nodes: []NodeState{{Name: "n", Ready: true}}, Images: images, imageFix: imageFix("prod", "")}
	r.evaluate()
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "ami-3") || !strings.Contains(r.Problems[0], "kforge roll prod --ami latest") {
		t.Errorf("validate problems %q, want the disabled image's", r.Problems)
	}
}

// amiID is read before anything is applied: an image the nodes can boot
// passes; one EC2 does not have, a deregistered one, or one of another
// architecture than the instance types stops up and plan, naming amiID.
func TestCheckConfiguredImage(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	api := ec2.NewFromConfig(cfg)
	x86, deregistered := emulatorImages(t, api)

	c := &config.Cluster{
		Environment:  "prod",
		Region:       "us-east-1",
		ControlPlane: config.ControlPlane{InstanceType: "t3.medium"},
		WorkerPools:  map[string]config.WorkerPool{"general": {InstanceTypes: []string{"m5.large"}, Max: 1}},
	}
	ui := &recordingUI{}
	e := &Env{Name: "prod", Config: c, awsCfg: &cfg, opts: Options{UI: ui}}
	for _, id := range []string{"", x86} {
		c.AMIID = id
		if err := e.checkConfiguredImage(ctx); err != nil {
			t.Errorf("amiID %q: %v, want none", id, err)
		}
	}
	refused := map[string]string{
		"ami-0123456789abcdef0": "amiID: EC2 in us-east-1 has no image ami-0123456789abcdef0",
		deregistered:            "amiID: EC2 in us-east-1 has no image " + deregistered,
	}
	for id, want := range refused {
		c.AMIID = id
		err := e.checkConfiguredImage(ctx)
		var ee *exitcode.Error
		if !errors.As(err, &ee) || ee.Code != exitcode.Usage || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "envs/prod.yaml") {
			t.Errorf("amiID %s: %v, want a usage error starting %q", id, err, want)
		}
	}
	c.AMIID = x86
	c.ControlPlane.InstanceType = "t4g.medium"
	c.WorkerPools = map[string]config.WorkerPool{"general": {InstanceTypes: []string{"m7g.large"}, Max: 1}}
	err := e.checkConfiguredImage(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "amiID: image "+x86+" is built for x86_64, and the nodes' instance types (m7g.large, t4g.medium) are arm64") {
		t.Errorf("x86_64 image for Graviton types: %v, want the architecture refusal", err)
	}
	if len(ui.notes) != 0 {
		t.Errorf("notes %q, want none", ui.notes)
	}
}

// emulatorImages are one of the emulator's own x86_64 images, and an image
// made from an instance of it, then deregistered.
func emulatorImages(t *testing.T, api *ec2.Client) (available, deregistered string) {
	t.Helper()
	ctx := context.Background()
	images, err := api.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}, Filters: []ec2types.Filter{{Name: aws.String("architecture"), Values: []string{"x86_64"}}}})
	if err != nil || len(images.Images) == 0 {
		t.Fatalf("an x86_64 image of the emulator's: %v, %v", images, err)
	}
	available = aws.ToString(images.Images[0].ImageId)
	run, err := api.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(available), InstanceType: ec2types.InstanceTypeT3Medium, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	own, err := api.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: run.Instances[0].InstanceId, Name: aws.String("kforge-node")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: own.ImageId}); err != nil {
		t.Fatal(err)
	}
	return available, aws.ToString(own.ImageId)
}
