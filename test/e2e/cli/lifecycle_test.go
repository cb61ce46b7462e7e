package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestLifecycle runs what a user runs against one emulator: init twice, up
// (through a connection that loses the answers to three creates), status,
// output, plan (no drift); plan refused over the cluster key scheduled for
// deletion, then up after its cancellation, naming the certs bucket's
// lifecycle rules deleted outside Terraform and the key it enables again;
// then, with
// certsBucketForceDestroy false, down (losing the answer to a role's
// removal from its instance profile, with a worker in Standby and the
// control plane's Terminate process suspended) keeps the certs bucket, log bucket,
// key and public zone (with records others made in it), a second down
// still keeps them, and up (losing the answer to a role's addition to its
// profile) adopts them with the backup written before still readable and
// the zone's name servers unchanged (the cluster's first apply after a
// down); finally down with certsBucketForceDestroy true removes
// everything, a second down finds nothing, and down --purge-state deletes
// this environment's state but keeps the bucket for another's.
func TestLifecycle(t *testing.T) {
	requireTools(t)
	if testing.Short() {
		t.Skip("skipping the full apply in -short mode")
	}
	// A prod-like local environment: the certs bucket kept on down, and a
	// log bucket (flow logs on) to keep with it.
	const keepSettings = "certsBucketForceDestroy: false\nlogging:\n  vpcFlowLogs: true\n"
	env := newLocalEnv(t, keepSettings)
	// The first up loses the answers to a security group's, a role's and a
	// rule's create, as a dropped connection does on AWS: each retry meets
	// what its first attempt made, and up must heal and converge. Later
	// steps lose the answers to a role's removal from and addition to its
	// instance profile.
	proxy := newLosingProxy(t, env.url)
	env.url = proxy.URL
	proxy.Lose(
		lostAnswer{"CreateSecurityGroup", "GroupName", "kforge-local-workers"},
		lostAnswer{"CreateRole", "RoleName", "kforge-local-worker"},
		lostAnswer{"AuthorizeSecurityGroupIngress", "", ""})
	envs, run := env.envs, env.run
	mustJSON := func(r result, v any) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("want exit 0, got %s", r)
		}
		if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, r)
		}
	}

	// init, twice: the second finds the bucket and changes nothing.
	var init1, init2 struct {
		Bucket   string   `json:"state_bucket"`
		Created  bool     `json:"bucket_created"`
		Settings []string `json:"bucket_settings"`
	}
	mustJSON(run(2*time.Minute, "init", "local", "-o", "json"), &init1)
	mustJSON(run(2*time.Minute, "init", "local", "-o", "json"), &init2)
	if !init1.Created || init2.Created || init1.Bucket != init2.Bucket || init1.Bucket == "" {
		t.Fatalf("init twice: first %+v, second %+v; want created once, same bucket", init1, init2)
	}
	if len(init2.Settings) < 4 {
		t.Errorf("bucket settings re-applied = %v, want versioning, encryption, public access block, ownership", init2.Settings)
	}

	// up --yes: the whole cluster, with progress and an outputs table.
	up := run(10*time.Minute, "up", "local", "--yes")
	if up.code != 0 {
		t.Fatalf("up: %s", up)
	}
	for _, want := range []string{"account 123456789012 (arn:", "Plan:", "Applied", "NLB DNS name", "name servers", "API endpoint", "certs bucket"} {
		if !strings.Contains(up.stdout, want) {
			t.Errorf("up's summary lacks %q:\n%s", want, up.stdout)
		}
	}
	if !strings.Contains(up.stderr, "created module.network.aws_vpc.this") {
		t.Errorf("up printed no progress line for the VPC:\n%s", up.stderr)
	}
	if lost := proxy.Lost(); len(lost) != 3 {
		t.Errorf("answers lost during up = %+v, want the three creates'", lost)
	}
	for _, want := range []string{"already existed without being recorded", "orphaned resources", "adopted it"} {
		if !strings.Contains(up.stderr, want) {
			t.Errorf("up's recovery from the lost answers does not say %q:\n%s", want, up.stderr)
		}
	}

	// output --json, parsed.
	var out map[string]any
	mustJSON(run(2*time.Minute, "output", "local", "--json"), &out)
	for _, k := range []string{"cluster_name", "vpc_id", "nlb_dns_name", "zone_id", "api_endpoint", "certs_bucket", "controller_asg_name", "efs_id", "kms_key_arn"} {
		if s, _ := out[k].(string); s == "" {
			t.Errorf("output %s is empty: %v", k, out[k])
		}
	}
	if out["emulated"] != true {
		t.Errorf("output emulated = %v, want true", out["emulated"])
	}
	if ns, _ := out["name_servers"].([]any); len(ns) == 0 {
		t.Errorf("no name servers in the outputs")
	}

	// status: live facts from the AWS API.
	var st struct {
		ControlPlane struct {
			Desired   int `json:"desired"`
			InService int `json:"in_service"`
		} `json:"control_plane"`
		Controllers []struct {
			State string `json:"state"`
		} `json:"control_plane_instances"`
		Pools []struct {
			Pool      string `json:"pool"`
			Desired   int    `json:"desired"`
			InService int    `json:"in_service"`
		} `json:"worker_pools"`
		TargetGroups []struct {
			Name    string `json:"name"`
			Targets int    `json:"targets"`
		} `json:"target_groups"`
		Images []struct {
			ID     string   `json:"id"`
			State  string   `json:"state"`
			Groups []string `json:"groups"`
		} `json:"images"`
		KeyState   string   `json:"key_state"`
		EFSBackups string   `json:"efs_backups"`
		Problems   []string `json:"problems"`
	}
	mustJSON(run(2*time.Minute, "status", "local", "-o", "json"), &st)
	if st.ControlPlane.Desired != 1 || st.ControlPlane.InService != 1 || len(st.Controllers) != 1 || st.Controllers[0].State != "running" {
		t.Errorf("control plane = %+v %+v, want 1 running instance in service", st.ControlPlane, st.Controllers)
	}
	if len(st.Pools) == 0 {
		t.Errorf("status lists no worker pool")
	}
	for _, p := range st.Pools {
		if p.Desired < 1 || p.InService != p.Desired {
			t.Errorf("worker pool %+v: want every desired instance in service", p)
		}
	}
	if len(st.TargetGroups) != 2 {
		t.Errorf("target groups = %+v, want http and https", st.TargetGroups)
	}
	// envs/local.yaml pins one of the emulator's images for every group.
	if len(st.Images) != 1 || st.Images[0].ID != "ami-760aaa0f" || st.Images[0].State != "available" || len(st.Images[0].Groups) != 1+len(st.Pools) {
		t.Errorf("images = %+v: want ami-760aaa0f available for the control plane and every pool", st.Images)
	}
	if st.KeyState != "Enabled" || len(st.Problems) != 0 {
		t.Errorf("key state %q, problems %q: want the cluster key enabled and no problem", st.KeyState, st.Problems)
	}
	// The emulator's plan leaves the backup policy out (efsBackups).
	if st.EFSBackups != "none" {
		t.Errorf("EFS backups %q, want none: the emulator's file system has no backup policy", st.EFSBackups)
	}

	// plan --detailed-exitcode: the applied cluster has no drift.
	if r := run(5*time.Minute, "plan", "local", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan --detailed-exitcode after up: want 0 (no change), got %s", r)
	}

	// A day-2 change the running cluster would not survive: a new HTTPS
	// node port replaces its target group, which AWS refuses to delete
	// while the listener uses it (the emulator deletes it). plan lists it;
	// up refuses it with exit code 2 and applies nothing.
	envs.set(t, keepSettings+"ingress:\n  httpsNodePort: 30444\n")
	var planned struct {
		Disruptions []struct {
			Address string `json:"address"`
			Setting string `json:"setting"`
		} `json:"disruptions"`
	}
	mustJSON(run(5*time.Minute, "plan", "local", "-o", "json"), &planned)
	if len(planned.Disruptions) != 1 || !strings.Contains(planned.Disruptions[0].Address, "aws_lb_target_group") ||
		!strings.Contains(planned.Disruptions[0].Setting, "ingress.httpsNodePort") {
		t.Errorf("plan's disruptions for a new HTTPS node port = %+v, want the HTTPS target group's replacement", planned.Disruptions)
	}
	if r := run(5*time.Minute, "up", "local", "--yes"); r.code != 2 || !strings.Contains(r.stderr, "nothing was applied") ||
		!strings.Contains(r.stderr, "--allow-disruption") || strings.Contains(r.stderr, "destroyed module.") {
		t.Errorf("up with a new HTTPS node port: want exit 2, nothing applied, the way through named; got %s", r)
	}
	envs.set(t, keepSettings)
	if r := run(5*time.Minute, "plan", "local", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan --detailed-exitcode after the refused up: want 0 (nothing was applied), got %s", r)
	}

	// A backup in the certs bucket, under the cluster key.
	certs, _ := out["certs_bucket"].(string)
	keyARN, _ := out["kms_key_arn"].(string)
	backup := newBackupCheck(t, env.url, "us-east-1", certs, keyARN)
	backup.write(t)
	// The cluster key scheduled for deletion by mistake: Terraform would
	// read it as gone and plan a new key and file system, so plan refuses
	// before Terraform runs. Cancelled, it is disabled, and up enables it.
	keyID := keyARN[strings.LastIndex(keyARN, "/")+1:] // the emulator's ScheduleKeyDeletion takes no ARN
	if _, err := backup.kms.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if r := run(5*time.Minute, "plan", "local"); r.code != 1 || !strings.Contains(r.stderr, "is pending deletion") ||
		!strings.Contains(r.stderr, "Nothing was planned") || !strings.Contains(r.stderr, "aws kms cancel-key-deletion --key-id "+keyARN) {
		t.Errorf("plan with the cluster key pending deletion: want exit 1 naming cancel-key-deletion, got %s", r)
	}
	if _, err := backup.kms.CancelKeyDeletion(context.Background(), &kms.CancelKeyDeletionInput{KeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	// With it, a resource deleted outside Terraform: up names it, and the
	// key disabled outside, which it enables again.
	keySetBack := regexp.MustCompile(`set back by this plan: [^\n]*module\.kms\.aws_kms_key\.cluster \([^)]*\bis_enabled\b`)
	if _, err := backup.s3.DeleteBucketLifecycle(context.Background(), &s3.DeleteBucketLifecycleInput{Bucket: aws.String(certs)}); err != nil {
		t.Fatal(err)
	}
	if r := run(10*time.Minute, "up", "local", "--yes"); r.code != 0 || !strings.Contains(r.stderr, "is disabled; the plan enables it again") ||
		!strings.Contains(r.stdout, "Plan: 1 to add, 1 to change, 0 to destroy") ||
		!strings.Contains(r.stdout, "(deleted outside Terraform, or read as gone): module.buckets.aws_s3_bucket_lifecycle_configuration.certs.") ||
		!keySetBack.MatchString(r.stdout) {
		t.Errorf("up with the cluster key disabled and the certs bucket's lifecycle rules deleted: want both named and applied, got %s", r)
	}
	if state := backup.keyState(t); state != "Enabled" {
		t.Errorf("cluster key after up: %s, want Enabled", state)
	}
	logBucket := strings.Replace(certs, "-certs-", "-logs-", 1)
	if !backup.bucketExists(t, logBucket) {
		t.Fatalf("no log bucket %s with vpcFlowLogs on", logBucket)
	}

	// Records someone else put in the public zone (a subdomain delegated
	// to another cluster, a verification TXT at the apex, beside kforge's
	// own A record there).
	domain := strings.TrimPrefix(fmt.Sprint(out["api_dns_name"]), "api.")
	addZoneRecords(t, env.url, fmt.Sprint(out["zone_id"]), domain, "child."+domain)

	// down with certsBucketForceDestroy false: everything else goes, the
	// buckets and the key stay, the key enabled, the backup readable; and
	// the public zone with its name servers and those records, so the
	// registrar's delegation stays valid.
	// The emulator answers the retried removal with a 500 (AWS with
	// NoSuchEntity), and down must destroy the rest once more.
	proxy.Lose(lostAnswer{"RemoveRoleFromInstanceProfile", "RoleName", "kforge-local-controller"})
	// A worker an operator put in Standby, and the control plane's group
	// with Terminate suspended: no scale-in removes either instance, and the
	// destroy, which waits for each group to empty, failed after ten
	// minutes on every down. down puts them back before the destroy.
	parked := holdOutOfScaleIn(t, env.url, out)
	down := run(10*time.Minute, "down", "local", "--yes")
	if !strings.Contains(down.stdout+down.stderr, "instances in Standby "+parked) || !strings.Contains(down.stdout+down.stderr, "the suspended processes Terminate") {
		t.Errorf("down did not name the held groups before the destroy:\n%s", down)
	}
	if down.code != 0 || !strings.Contains(down.stdout, "Destroyed") || !strings.Contains(down.stdout, "Kept (certsBucketForceDestroy: false): KMS alias alias/kforge-local, KMS key ") ||
		!strings.Contains(down.stdout, fmt.Sprintf("hosted zone %s (%s)", domain, out["zone_id"])) || strings.Contains(down.stdout, "kforge did not make; they are deleted") {
		t.Fatalf("down keeping the certs bucket and zone: %s", down)
	}
	if lost := proxy.Lost(); len(lost) != 4 {
		t.Errorf("answers lost by the first down = %+v, want the instance profile's too", lost)
	}
	if !strings.Contains(down.stderr, "A delete failed with a server error (StatusCode: 500); destroying the remaining") {
		t.Errorf("down's recovery from the lost answer does not say so:\n%s", down.stderr)
	}
	backup.checkKept(t, "after down", "alias/kforge-local")
	if !backup.bucketExists(t, logBucket) {
		t.Errorf("after down: the log bucket %s is gone; it is kept with the certs bucket", logBucket)
	}
	// Nothing else of the cluster is left, and the kept ones are no orphans.
	var orph struct {
		Orphans []struct{ Kind, ID string } `json:"orphans"`
		Kept    []struct{ Kind, ID string } `json:"kept"`
	}
	mustJSON(run(3*time.Minute, "orphans", "local", "-o", "json"), &orph)
	if len(orph.Orphans) != 0 || len(orph.Kept) != 5 {
		t.Errorf("orphans after a keeping down = %+v, kept = %+v; want none, and the two buckets, the key, the alias and the zone kept", orph.Orphans, orph.Kept)
	}
	// A second down has nothing to destroy, and its sweep keeps them too.
	again := run(5*time.Minute, "down", "local", "--yes")
	if again.code != 0 || !strings.Contains(again.stdout, "already destroyed") {
		t.Fatalf("second down: want success saying already destroyed, got %s", again)
	}
	backup.checkKept(t, "after a second down", "alias/kforge-local")

	// up adopts them: the same bucket and key, the backup still readable,
	// and no drift afterwards.
	// IAM answers the retried addition with LimitExceeded (a profile takes
	// one role), leaving the profile tainted; up must plan and apply again.
	proxy.Lose(lostAnswer{"AddRoleToInstanceProfile", "RoleName", "kforge-local-controller"})
	up2 := run(10*time.Minute, "up", "local", "--yes")
	if up2.code != 0 {
		t.Fatalf("up after a keeping down: %s", up2)
	}
	if lost := proxy.Lost(); len(lost) != 5 {
		t.Errorf("answers lost by the second up = %+v, want the role's addition too", lost)
	}
	if !strings.Contains(up2.stderr, "The apply failed on a role added again to its instance profile") {
		t.Errorf("up's recovery from the lost answer does not say so:\n%s", up2.stderr)
	}
	if !strings.Contains(up2.stderr, "kept by an earlier `kforge down`") {
		t.Errorf("up did not say it adopts the kept resources:\n%s", up2.stderr)
	}
	var out2 map[string]any
	mustJSON(run(2*time.Minute, "output", "local", "--json"), &out2)
	if out2["certs_bucket"] != certs || out2["kms_key_arn"] != keyARN {
		t.Errorf("after up: certs bucket %v, key %v; want the kept %s and %s", out2["certs_bucket"], out2["kms_key_arn"], certs, keyARN)
	}
	if out2["zone_id"] != out["zone_id"] || fmt.Sprint(out2["name_servers"]) != fmt.Sprint(out["name_servers"]) {
		t.Errorf("after up: zone %v with name servers %v; want the kept %v with %v", out2["zone_id"], out2["name_servers"], out["zone_id"], out["name_servers"])
	}
	backup.checkKept(t, "after up", "alias/kforge-local")
	if r := run(5*time.Minute, "plan", "local", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan --detailed-exitcode after adopting: want 0 (no change), got %s", r)
	}

	// The records others made are still in the zone. Route 53 deletes no
	// zone holding them, so the destroy below takes them with the zone
	// (the emulator would delete it anyway), and down names them before it
	// asks.
	// certsBucketForceDestroy true: down removes everything, buckets and
	// key included; a second down finds nothing and says so.
	envs.set(t, "logging:\n  vpcFlowLogs: true\n")
	down = run(10*time.Minute, "down", "local", "--yes")
	if down.code != 0 || !strings.Contains(down.stdout, "Destroyed") || strings.Contains(down.stdout, "Kept") {
		t.Fatalf("down: %s", down)
	}
	for _, want := range []string{"holds 2 records kforge did not make", "NS child." + domain + " (a subdomain delegated from this zone", "TXT " + domain} {
		if !strings.Contains(down.stdout, want) {
			t.Errorf("down did not name the zone's other records (%q):\n%s", want, down.stdout)
		}
	}
	if backup.bucketExists(t, certs) || backup.bucketExists(t, logBucket) {
		t.Errorf("after down with certsBucketForceDestroy true the buckets %s and %s must be gone", certs, logBucket)
	}
	if st := backup.keyState(t); st != "" && st != "PendingDeletion" {
		t.Errorf("after down with certsBucketForceDestroy true the key is %q, want PendingDeletion", st)
	}
	again = run(5*time.Minute, "down", "local", "--yes")
	if again.code != 0 || !strings.Contains(again.stdout, "already destroyed") {
		t.Fatalf("second down: want success saying already destroyed, got %s", again)
	}

	// --purge-state deletes this environment's state and keeps the bucket
	// for another environment's state in it, whose key starts with this
	// cluster's name.
	ctx := context.Background()
	const otherState = "kforge-local-eu/local/terraform.tfstate"
	if _, err := backup.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(init1.Bucket), Key: aws.String(otherState), Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}
	purge := run(5*time.Minute, "down", "local", "--yes", "--purge-state")
	if purge.code != 0 || !strings.Contains(purge.stdout, "State of local deleted with every version; state bucket "+init1.Bucket+" kept: it holds other state ("+otherState+")") {
		t.Fatalf("down --purge-state with another environment's state in the bucket: %s", purge)
	}
	versions, err := backup.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(init1.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions.Versions {
		if aws.ToString(v.Key) != otherState {
			t.Errorf("after --purge-state the state bucket still holds %s (version %s)", aws.ToString(v.Key), aws.ToString(v.VersionId))
		}
	}
	if len(versions.Versions) != 1 {
		t.Errorf("after --purge-state: %d object versions left, want only %s", len(versions.Versions), otherState)
	}
	var outAfter map[string]any
	if r := run(2*time.Minute, "output", "local", "--json"); r.code == 0 {
		_ = json.Unmarshal([]byte(r.stdout), &outAfter)
		t.Errorf("output after down succeeded with %v; want a failure saying nothing is applied", outAfter)
	}
}
