package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/kforge/kforge/internal/node"
)

// TestMetadataMock runs the metadata emulator on loopback with an
// instance's configuration and reads it back with the node agent's own
// ReadInstance and the SDK's IMDS credentials path: IMDSv2 only, this
// instance's identity (its instance type too: the agent labels the node
// with it and stops without it), no public address, the role's
// credentials, the user data.
func TestMetadataMock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the metadata emulator; not in -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("SKIP (not a pass): no go toolchain to build %s", MetadataMockModule)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := EnsureMetadataMock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := Metadata{
		InstanceID: "i-0123456789abcdef0", InstanceType: "t3.medium", ImageID: "ami-760aaa0f", AccountID: "123456789012",
		Region: "us-east-1", AvailabilityZone: "us-east-1b", PrivateIP: "10.40.2.17", Hostname: "ip-10-40-2-17.ec2.internal",
		SubnetID: "subnet-1", SubnetCIDR: "10.40.2.0/24", VPCID: "vpc-1", VPCCIDR: "10.40.0.0/16",
		Role: "kforge-local-worker", InstanceProfile: "arn:aws:iam::123456789012:instance-profile/kforge-local-worker",
		AccessKeyID: "ASIALAB0000000000001", SecretAccessKey: "secret", SessionToken: "token",
		UserData: []byte("#!/bin/bash\necho lab\n"),
	}
	cfg, err := metadataConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "imds.json")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--config-file", path, "--hostname", "127.0.0.1", "--port", fmt.Sprint(port))
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = http.Get(base + "/latest/meta-data/instance-id"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("metadata emulator did not answer: %v; %s", err, tail(filepath.Join(dir, "log"), 1000))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token-less GET answered %d; IMDSv2-only must refuse it with 401", resp.StatusCode)
	}

	client := imds.New(imds.Options{Endpoint: base, ClientEnableState: imds.ClientEnabled})
	inst, err := node.ReadInstance(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	want := node.Instance{ID: m.InstanceID, InstanceType: m.InstanceType, AvailabilityZone: m.AvailabilityZone, Region: m.Region, PrivateIP: m.PrivateIP, Hostname: m.Hostname}
	if inst != want {
		t.Errorf("agent read %+v, want %+v", inst, want)
	}
	ud, err := client.GetUserData(ctx, &imds.GetUserDataInput{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(ud.Content)
	if string(b) != string(m.UserData) {
		t.Errorf("user data = %q", b)
	}
	role, err := client.GetMetadata(ctx, &imds.GetMetadataInput{Path: "iam/security-credentials/"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(role.Content)
	if string(b) != m.Role {
		t.Errorf("role = %q, want %q", b, m.Role)
	}
	doc, err := client.GetInstanceIdentityDocument(ctx, &imds.GetInstanceIdentityDocumentInput{})
	if err != nil {
		t.Fatal(err)
	}
	if doc.InstanceID != m.InstanceID || doc.PrivateIP != m.PrivateIP || doc.AvailabilityZone != m.AvailabilityZone {
		t.Errorf("identity document = %+v", doc.InstanceIdentityDocument)
	}
}
