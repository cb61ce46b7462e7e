package cost

import (
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// The file system's automatic backups are a line without a price, from the
// backup policy, or from the variable where an emulator plan leaves the
// policy out; with neither there is no line.
func TestEFSBackupsAreListedUnpriced(t *testing.T) {
	policy := &tfjson.StateResource{Type: "aws_efs_backup_policy", Name: "this", AttributeValues: map[string]any{}}
	for name, plan := range map[string]*tfjson.Plan{
		"policy":   planOf(map[string]any{"region": "us-east-1"}, policy),
		"variable": planOf(map[string]any{"region": "us-east-1", "efs_backups": true}),
		"both":     planOf(map[string]any{"region": "us-east-1", "efs_backups": true}, policy),
	} {
		e := estimateOf(t, plan)
		var lines []Line
		for _, l := range e.Lines {
			if strings.Contains(l.Item, "EFS automatic backups") {
				lines = append(lines, l)
			}
		}
		if len(lines) != 1 || lines[0].Priced || !strings.Contains(lines[0].NoPrice, "per GB-month") || e.Unpriced != 1 {
			t.Errorf("%s: backup lines %+v (%d unpriced), want one without a price", name, lines, e.Unpriced)
		}
	}
	e := estimateOf(t, planOf(map[string]any{"region": "us-east-1", "efs_backups": false}))
	for _, l := range e.Lines {
		if strings.Contains(l.Item, "EFS automatic backups") {
			t.Errorf("backups off: line %+v", l)
		}
	}
}
