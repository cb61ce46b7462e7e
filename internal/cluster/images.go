package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// Every launch template names its image by ID, pinned in the state
// (terraform/cluster/ami.tf) or by amiID, so the replacement of a failed
// node and Cluster Autoscaler's scale-outs boot, months later, the image
// the cluster was built with. EC2 keeps launching a deprecated image by ID
// (public images are deprecated two years after their creation at the
// latest), but not a disabled or a deregistered one: then every launch of
// the groups that boot it fails, while every running node still looks
// healthy. So status and validate read each image, and plan and up name,
// before the plan, one that can no longer launch.

// ImagesReader is the EC2 call the image check makes.
type ImagesReader interface {
	DescribeImages(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
}

// ImageGone is the State of an image EC2 no longer describes: deregistered
// (or, for amiID, never there).
const ImageGone = "gone"

// ImageStatus is one image the cluster's launch templates boot.
type ImageStatus struct {
	ID string `json:"id"`
	// Groups are the node groups whose launch templates name it.
	Groups []string `json:"groups"`
	// State is EC2's (available, disabled, pending, failed...) or
	// ImageGone.
	State string `json:"state"`
	Name  string `json:"name,omitempty"`
	// DeprecationTime is when EC2 deprecates (or deprecated) the image, as
	// EC2 gives it; empty when it names none.
	DeprecationTime string `json:"deprecation_time,omitempty"`
}

// Launches reports whether EC2 launches instances from the image.
func (s ImageStatus) Launches() bool {
	return s.State == string(ec2types.ImageStateAvailable)
}

// Deprecated reports whether the image's deprecation time has passed at now.
func (s ImageStatus) Deprecated(now time.Time) bool {
	at, err := time.Parse(time.RFC3339, s.DeprecationTime)
	return err == nil && !at.After(now)
}

// Line is the image as status and validate print it.
func (s ImageStatus) Line(now time.Time) string {
	line := fmt.Sprintf("image %s %s (%s)", s.ID, s.State, strings.Join(s.Groups, ", "))
	if s.Deprecated(now) {
		line += ", deprecated since " + s.DeprecationTime
	}
	return line
}

// Problem says why the image's groups cannot launch an instance and what
// fixes it; "" when they can. fix is the command or setting that moves the
// cluster to another image (imageFix).
func (s ImageStatus) Problem(fix string) string {
	if s.Launches() {
		return ""
	}
	why := "EC2 no longer describes it (deregistered)"
	if s.State != ImageGone {
		why = fmt.Sprintf("its state is %s", s.State)
	}
	return fmt.Sprintf("image %s of %s cannot launch instances: %s. A failed node of these groups is not replaced and no scale-out boots, though the running nodes look healthy; fix: %s",
		s.ID, strings.Join(s.Groups, ", "), why, fix)
}

// imageFix is what moves an environment's nodes to an image that exists.
func imageFix(env, amiID string) string {
	if amiID != "" {
		return fmt.Sprintf("set amiID in envs/%s.yaml to an available image, then `kforge up %s` and `kforge roll %s`", env, env, env)
	}
	return fmt.Sprintf("`kforge roll %s --ami latest` pins the current Amazon Linux 2023 release and replaces the nodes (`--dry-run` shows the plan first)", env)
}

// controllerImageKey is the control plane's key in the amis output
// (terraform/cluster/locals.tf, controller_group).
const controllerImageKey = "controller"

// poolImages are the images of the amis output by the pool names status
// and roll use (ControlPlanePool for the control plane).
func poolImages(out *Outputs) map[string]string {
	amis := maps.Clone(out.AMIs)
	if id, ok := amis[controllerImageKey]; ok {
		delete(amis, controllerImageKey)
		amis[ControlPlanePool] = id
	}
	return amis
}

// checkRollImages refuses a roll whose groups (pool -> group, as a roll's
// targets) cannot launch from their image, before anything changes: a
// roll launches each replacement from the group's launch template, and
// a control plane terminated for a replacement that cannot launch leaves
// the cluster without its API. A failed read is a note: the roll goes on.
func (e *Env) checkRollImages(ctx context.Context, api ImagesReader, out *Outputs, targets map[string]string) error {
	amis := poolImages(out)
	maps.DeleteFunc(amis, func(pool, _ string) bool { _, ok := targets[pool]; return !ok })
	images, err := imageStatuses(ctx, api, amis)
	if err != nil {
		e.opts.UI.Notef("note: the groups' images were not checked: %v\n", err)
		return nil
	}
	problems, _ := imageFindings(images, imageFix(e.Name, e.Config.AMIID), time.Now())
	if len(problems) > 0 {
		return Failure("nothing was replaced: %s", strings.Join(problems, "; "))
	}
	return nil
}

// checkConfiguredImage refuses, before anything is applied, an amiID that
// EC2 would launch nothing from: gone, not available, or of another
// architecture than the nodes' instance types (config refuses types of
// two architectures beside amiID). Auto Scaling refuses such a launch
// template only when a group is created or moved to it, part way through
// the apply; an unchanged group fails at its next launch. A failed read
// is a note.
func (e *Env) checkConfiguredImage(ctx context.Context) error {
	id := e.Config.AMIID
	if id == "" {
		return nil // the state pins Amazon Linux 2023 per architecture
	}
	cfg, err := e.AWSConfig(ctx)
	var img *ec2types.Image
	if err == nil {
		img, err = describeImage(ctx, ec2.NewFromConfig(cfg), id)
	}
	if err != nil {
		e.opts.UI.Notef("note: amiID %s was not checked: %v\n", id, err)
		return nil
	}
	fix := fmt.Sprintf("set amiID in envs/%s.yaml to an available image of this region (AMI IDs differ per region), or leave it out to boot the latest Amazon Linux 2023", e.Config.Environment)
	switch {
	case img == nil:
		return UsageError("amiID: EC2 in %s has no image %s (deregistered, of another region, or not shared with this account); fix: %s", e.Config.Region, id, fix)
	case img.State != ec2types.ImageStateAvailable:
		return UsageError("amiID: image %s is %s, and EC2 launches instances only from an available image; fix: %s", id, img.State, fix)
	}
	if want := amiArches(e.Config)[0]; string(img.Architecture) != want {
		return UsageError("amiID: image %s is built for %s, and the nodes' instance types (%s) are %s; fix: set amiID to a %s image, or choose instance types of its architecture",
			id, img.Architecture, strings.Join(clusterTypes(e.Config), ", "), want, want)
	}
	return nil
}

// describeImage reads one image by ID; nil when EC2 no longer describes
// it. One call an image: EC2 refuses a whole request that names one image
// it does not know.
func describeImage(ctx context.Context, api ImagesReader, id string) (*ec2types.Image, error) {
	// A deprecated or disabled image is described only when asked for.
	res, err := api.DescribeImages(ctx, &ec2.DescribeImagesInput{
		ImageIds:          []string{id},
		IncludeDeprecated: aws.Bool(true),
		IncludeDisabled:   aws.Bool(true),
	})
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && strings.HasPrefix(apiErr.ErrorCode(), "InvalidAMIID.") && apiErr.ErrorCode() != "InvalidAMIID.Malformed":
		return nil, nil // NotFound or Unavailable: gone
	case err != nil:
		return nil, fmt.Errorf("reading image %s: %w", id, err)
	}
	for i := range res.Images {
		if aws.ToString(res.Images[i].ImageId) == id {
			return &res.Images[i], nil
		}
	}
	return nil, nil // recently deregistered: an empty answer
}

// imageStatuses reads every image amis (pool -> image) names.
func imageStatuses(ctx context.Context, api ImagesReader, amis map[string]string) ([]ImageStatus, error) {
	groups := map[string][]string{}
	for _, g := range slices.Sorted(maps.Keys(amis)) {
		groups[amis[g]] = append(groups[amis[g]], g)
	}
	var out []ImageStatus
	for _, id := range slices.Sorted(maps.Keys(groups)) {
		img, err := describeImage(ctx, api, id)
		if err != nil {
			return nil, err
		}
		s := ImageStatus{ID: id, Groups: groups[id], State: ImageGone}
		if img != nil {
			s.State, s.Name, s.DeprecationTime = string(img.State), aws.ToString(img.Name), aws.ToString(img.DeprecationTime)
		}
		out = append(out, s)
	}
	return out, nil
}

// noteImages names, in notes, the images the cluster boots (out, the
// state's outputs) that cannot launch or are deprecated. A plan changes
// none of them (a roll does), so they are a warning, not a refusal; a
// failed read is a note too, and `kforge status` reads the same.
func (e *Env) noteImages(ctx context.Context, out *Outputs) []ImageStatus {
	cfg, err := e.AWSConfig(ctx)
	var images []ImageStatus
	if err == nil {
		images, err = imageStatuses(ctx, ec2.NewFromConfig(cfg), poolImages(out))
	}
	if err != nil {
		e.opts.UI.Notef("note: the nodes' images were not checked: %v\n", err)
		return nil
	}
	problems, notes := imageFindings(images, imageFix(e.Name, e.Config.AMIID), time.Now())
	for _, p := range problems {
		e.opts.UI.Notef("warning: %s\n", p)
	}
	for _, n := range notes {
		e.opts.UI.Notef("note: %s\n", n)
	}
	return images
}

// imageFindings are what the images call for at now: problems, the images
// that cannot launch, and notes, the deprecated ones, each with fix.
func imageFindings(images []ImageStatus, fix string, now time.Time) (problems, notes []string) {
	for _, s := range images {
		switch {
		case !s.Launches():
			problems = append(problems, s.Problem(fix))
		case s.Deprecated(now):
			notes = append(notes, fmt.Sprintf("image %s of %s has been deprecated since %s: EC2 still launches it, but it is out of date; %s", s.ID, strings.Join(s.Groups, ", "), s.DeprecationTime, fix))
		}
	}
	return problems, notes
}
