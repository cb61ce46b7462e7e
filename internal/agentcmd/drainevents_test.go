package agentcmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/cli"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/nodelifecycle"
)

// `kforge node drain-events --once` reads cluster.json from the bucket,
// receives from the queue it names (a real SQS queue on the emulator) and
// deletes the events it handled. The events here need no Kubernetes call
// (a launch action, a running instance), so the kubeconfig's server is
// never contacted; the drain itself is tested in internal/nodelifecycle.
func TestNodeDrainEventsOnceReadsTheQueueOfClusterJSON(t *testing.T) {
	cfg, emu := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	q, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("demo-node-events")})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"lifecycle-launch.json", "state-change-terminated.json"} {
		b, err := os.ReadFile(filepath.Join("..", "nodelifecycle", "testdata", "events", f))
		if err != nil {
			t.Fatal(err)
		}
		body := strings.Replace(string(b), `"state": "terminated"`, `"state": "running"`, 1)
		if _, err := sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join("..", "node", "testdata", "cluster.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["node_events_queue_url"] = aws.ToString(q.QueueUrl)
	raw, _ = json.Marshal(m)
	s3c := awsx.S3Client(cfg, emu.URL())
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("demo-certs"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("demo-certs"), Key: aws.String("bootstrap/cluster.json"), Body: bytes.NewReader(raw)}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "admin.conf")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: demo, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: admin, user: {token: unused}}]
contexts: [{name: demo, context: {cluster: demo, user: admin}}]
current-context: demo
`), 0o600); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	app := &cli.App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Output: "text", WorkDir: t.TempDir()}
	code := cli.Execute(ctx, app, []string{"--endpoint", emu.URL(), "node", "drain-events", "--once",
		"--bucket", "demo-certs", "--region", "eu-west-1", "--kubeconfig", kubeconfig})
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var outcomes []nodelifecycle.Outcome
	if err := json.Unmarshal(out.Bytes(), &outcomes); err != nil {
		t.Fatalf("stdout is not the outcomes as JSON: %v\n%s", err, out.String())
	}
	if len(outcomes) != 2 {
		t.Fatalf("outcomes %+v, want the two events", outcomes)
	}
	for _, o := range outcomes {
		if !o.Deleted || o.Event.Action != nodelifecycle.ActionIgnore || o.Error != "" {
			t.Errorf("outcome %+v: want an ignored event, deleted", o)
		}
	}
	left, err := sqs.NewFromConfig(cfg).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1})
	if err != nil || len(left.Messages) != 0 {
		t.Errorf("messages left %v (%v), want none", left, err)
	}
}
