package cluster

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// On the emulator: a file system made with backups reads ENABLED, one
// made without (as Terraform makes it when efsBackups is off) has no
// policy, and a file system EFS does not have is an error naming the
// permission the read needs.
func TestEFSBackupState(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	api := efs.NewFromConfig(cfg)
	create := func(token string, backup bool) string {
		t.Helper()
		fs, err := api.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String(token), Backup: aws.Bool(backup)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(fs.FileSystemId)
	}
	for _, c := range []struct {
		backup bool
		want   string
	}{{true, "ENABLED"}, {false, noBackupPolicy}} {
		id := create("kf-"+c.want, c.backup)
		got, err := efsBackupState(ctx, api, id)
		if err != nil || got != c.want {
			t.Errorf("made with backup %v: state %q, %v; want %q", c.backup, got, err, c.want)
		}
	}
	if _, err := efsBackupState(ctx, api, "fs-0123456789abcdef0"); err == nil || !strings.Contains(err.Error(), "elasticfilesystem:DescribeBackupPolicy") {
		t.Errorf("a file system EFS does not have: %v, want an error naming the permission", err)
	}
}

// Backups off where the config wants them on is a problem naming the fix;
// on, turning on, or not wanted (efsBackups off, or the emulator, whose
// plan leaves the policy out) is none.
func TestEFSBackupProblem(t *testing.T) {
	for _, c := range []struct {
		state   string
		wanted  bool
		problem bool
	}{
		{"ENABLED", true, false},
		{"ENABLING", true, false},
		{"DISABLED", true, true},
		{"DISABLING", true, true},
		{noBackupPolicy, true, true},
		{noBackupPolicy, false, false},
		{"DISABLED", false, false},
	} {
		p := efsBackupProblem(c.state, c.wanted, "prod", "fs-1")
		if got := p != ""; got != c.problem {
			t.Errorf("state %s, wanted %v: problem %q, want one: %v", c.state, c.wanted, p, c.problem)
		}
		if c.problem && !strings.Contains(p, "fs-1 are "+c.state+" though efsBackups is on") || c.problem && !strings.Contains(p, "`kforge up prod`") {
			t.Errorf("state %s: problem %q, want the state, the setting and the fix", c.state, p)
		}
	}
}

// docs/OPERATIONS.md shows the warning as status prints it.
func TestEFSBackupProblemIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	line := "warning: " + efsBackupProblem("DISABLED", true, "prod", "fs-0123456789abcdef0") + "\n"
	if !strings.Contains(string(doc), line) {
		t.Errorf("docs/OPERATIONS.md does not show the warning as status prints it:\n%s", line)
	}
}
