package lab

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// MetadataMockModule is the maintained EC2 instance metadata emulator each
// lab instance gets, built from the Go module proxy and cached.
const MetadataMockModule = "github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@v1.13.0"

// MetadataAddr is where every instance finds its metadata service.
const MetadataAddr = "169.254.169.254"

// Metadata is what one instance's metadata service answers.
type Metadata struct {
	InstanceID       string
	InstanceType     string
	ImageID          string
	AccountID        string
	Region           string
	AvailabilityZone string
	PrivateIP        string
	Hostname         string // local-hostname, e.g. ip-10-40-1-10.ec2.internal
	MAC              string
	SubnetID         string
	SubnetCIDR       string
	VPCID            string
	VPCCIDR          string
	Role             string // instance profile role name; empty for none
	InstanceProfile  string // instance profile ARN
	AccessKeyID      string
	SecretAccessKey  string
	SessionToken     string
	UserData         []byte
}

// EnsureMetadataMock returns the metadata emulator's binary, building it
// with `go install` the first time.
func EnsureMetadataMock(ctx context.Context) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	version := MetadataMockModule[strings.LastIndex(MetadataMockModule, "@")+1:]
	bin := filepath.Join(cache, "bin", "ec2-metadata-mock-"+version)
	dst := filepath.Join(bin, "ec2-metadata-mock")
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", bin, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, "bin.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", MetadataMockModule)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the instance metadata emulator (go install %s): %w: %s", MetadataMockModule, err, out)
	}
	return dst, nil
}

// metadataConfig renders the emulator's configuration: IMDSv2 only (a
// token-less request is refused, as the launch templates require), this
// instance's identity, addresses, role credentials and user data.
func metadataConfig(m Metadata) ([]byte, error) {
	mac := m.MAC
	if mac == "" {
		mac = "02:00:00:00:00:01"
	}
	macPath := "/latest/meta-data/network/interfaces/macs/" + mac + "/"
	values := map[string]any{
		"ami-id":                        m.ImageID,
		"instance-id":                   m.InstanceID,
		"instance-type":                 m.InstanceType,
		"local-ipv4":                    m.PrivateIP,
		"local-hostname":                m.Hostname,
		"hostname":                      m.Hostname,
		"mac":                           mac,
		"mac-local-ipv4s":               m.PrivateIP,
		"mac-local-hostname":            m.Hostname,
		"mac-mac":                       mac,
		"mac-owner-id":                  m.AccountID,
		"mac-subnet-id":                 m.SubnetID,
		"mac-subnet-ipv4-cidr-block":    m.SubnetCIDR,
		"mac-vpc-id":                    m.VPCID,
		"mac-vpc-ipv4-cidr-block":       m.VPCCIDR,
		"mac-vpc-ipv4-cidr-blocks":      m.VPCCIDR,
		"placement-availability-zone":   m.AvailabilityZone,
		"placement-region":              m.Region,
		"iam-security-credentials-role": m.Role,
		"iam-info": map[string]string{
			"Code": "Success", "LastUpdated": time.Now().UTC().Format(time.RFC3339),
			"InstanceProfileArn": m.InstanceProfile, "InstanceProfileId": "AIPALAB" + strings.ToUpper(strings.TrimPrefix(m.InstanceID, "i-")),
		},
		"iam-security-credentials": map[string]string{
			"Code": "Success", "LastUpdated": time.Now().UTC().Format(time.RFC3339), "Type": "AWS-HMAC",
			"AccessKeyId": m.AccessKeyID, "SecretAccessKey": m.SecretAccessKey, "Token": m.SessionToken,
			"Expiration": time.Now().UTC().Add(12 * time.Hour).Format(time.RFC3339),
		},
	}
	paths := map[string]string{
		"iam-security-credentials": "/latest/meta-data/iam/security-credentials/" + m.Role,
		// Lab instances have no public address: the path answers 404, as on
		// an instance in a private subnet.
		"public-ipv4":                "/lab-unset/public-ipv4",
		"public-hostname":            "/lab-unset/public-hostname",
		"mac-public-ipv4s":           "/lab-unset/mac-public-ipv4s",
		"mac-public-hostname":        "/lab-unset/mac-public-hostname",
		"mac-ipv4-associations":      "/lab-unset/mac-ipv4-associations",
		"mac-local-ipv4s":            macPath + "local-ipv4s",
		"mac-local-hostname":         macPath + "local-hostname",
		"mac-mac":                    macPath + "mac",
		"mac-owner-id":               macPath + "owner-id",
		"mac-subnet-id":              macPath + "subnet-id",
		"mac-subnet-ipv4-cidr-block": macPath + "subnet-ipv4-cidr-block",
		"mac-vpc-id":                 macPath + "vpc-id",
		"mac-vpc-ipv4-cidr-block":    macPath + "vpc-ipv4-cidr-block",
		"mac-vpc-ipv4-cidr-blocks":   macPath + "vpc-ipv4-cidr-blocks",
	}
	doc := map[string]any{
		"accountId": m.AccountID, "imageId": m.ImageID, "availabilityZone": m.AvailabilityZone,
		"version": "2017-09-30", "privateIp": m.PrivateIP, "instanceId": m.InstanceID,
		"pendingTime": time.Now().UTC().Format(time.RFC3339), "architecture": "x86_64",
		"instanceType": m.InstanceType, "region": m.Region,
	}
	cfg := map[string]any{
		"imdsv2":   true,
		"metadata": map[string]any{"values": values, "paths": paths},
		"dynamic":  map[string]any{"values": map[string]any{"instance-identity-document": doc}},
		"userdata": map[string]any{"values": map[string]any{"userdata": base64.StdEncoding.EncodeToString(m.UserData)}},
	}
	return json.MarshalIndent(cfg, "", "  ")
}
