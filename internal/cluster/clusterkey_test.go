package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// On the emulator: an enabled key is no problem; a disabled one, and one
// scheduled for deletion, are problems of status and validate, each with
// the commands that bring the key back.
func TestClusterKeyState(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	api := kms.NewFromConfig(cfg)
	key, err := api.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(key.KeyMetadata.Arn)
	check := func(want string, fix ...string) {
		t.Helper()
		state, err := clusterKeyState(ctx, api, arn)
		if err != nil || state != want {
			t.Fatalf("state = %q, %v, want %s", state, err, want)
		}
		r := ValidationResult{Nodes: []NodeState{{Name: "n", Ready: true}}, KeyState: state, keyARN: arn}
		r.evaluate()
		if len(fix) == 0 {
			if len(r.Problems) != 0 || keyProblem(state, arn) != "" {
				t.Errorf("%s key: problems %q, want none", state, r.Problems)
			}
			return
		}
		if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "the cluster key "+arn+" is "+want+": no node can launch") {
			t.Fatalf("%s key: problems %q, want the key's", want, r.Problems)
		}
		for _, f := range fix {
			if !strings.Contains(r.Problems[0], f+" --key-id "+arn) {
				t.Errorf("%s key: problem %q lacks %q", want, r.Problems[0], f)
			}
		}
	}
	verdict := func(wantNote string) {
		t.Helper()
		note, err := stateKeyVerdict(ctx, api, "prod", arn)
		if err != nil || !strings.Contains(note, wantNote) || (wantNote == "") != (note == "") {
			t.Fatalf("plan's verdict on the key: %q, %v; want the note %q and no refusal", note, err, wantNote)
		}
	}
	check("Enabled")
	verdict("")
	if _, err := api.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	check("Disabled", "aws kms enable-key")
	verdict("is disabled; the plan enables it again")
	if _, err := api.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	check("PendingDeletion", "aws kms cancel-key-deletion", "aws kms enable-key")
	// Terraform would read this key as gone and plan a new one and a new
	// file system: plan and up refuse before Terraform runs.
	note, err := stateKeyVerdict(ctx, api, "prod", arn)
	if note != "" || ExitCode(err) != ExitFailure {
		t.Fatalf("plan's verdict on a key pending deletion: %q, %v; want a refusal with exit code 1", note, err)
	}
	for _, want := range []string{"the cluster key " + arn + " is pending deletion (KMS deletes it on 20", "Nothing was planned", "aws kms cancel-key-deletion --key-id " + arn + "`, then `kforge up prod`", "`kforge down prod`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}

	gone := "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
	if _, err := clusterKeyState(ctx, api, gone); err == nil || !strings.Contains(err.Error(), "reading the cluster key") {
		t.Errorf("a key KMS does not have: %v, want an error naming the read", err)
	}
	// A key already deleted is past saving: the plan goes on, warned.
	if note, err := stateKeyVerdict(ctx, api, "prod", gone); err != nil || !strings.HasPrefix(note, "warning: the cluster key "+gone+" is gone from KMS") {
		t.Errorf("plan's verdict on a deleted key: %q, %v; want a warning and no refusal", note, err)
	}
}
