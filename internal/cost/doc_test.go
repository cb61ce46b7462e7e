package cost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCostDocQuotesTheGoldens keeps the figures docs/COST.md quotes those of
// the golden files: each example environment's total and EKS comparison,
// the totals of the levers table, and the full table of dev. After `make
// golden` changes a golden, update COST.md by hand to match.
func TestCostDocQuotesTheGoldens(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "COST.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, env := range []string{"dev", "staging", "prod", "local"} {
		data, err := os.ReadFile(filepath.Join("testdata", "golden", env+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var e Estimate
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatal(err)
		}
		row := fmt.Sprintf("| %s | %s | %s | %s (%s) |", env, e.Region, e.Total.Money(), e.EKS.Total.Money(), signed(e.EKS.Difference))
		if !strings.Contains(doc, row) {
			t.Errorf("docs/COST.md lacks the row %q of testdata/golden/%s.json", row, env)
		}
		if len(e.Levers) > 0 && (env == "staging" || env == "prod") {
			if lever := fmt.Sprintf("| %s | %s | −%s ", env, e.Total.Money(), e.Levers[0].Saving.Money()); !strings.Contains(doc, lever) {
				t.Errorf("docs/COST.md's levers table lacks %q", lever)
			}
		}
	}
	const intro = "The full table of `dev`:\n\n```\n"
	i := strings.Index(doc, intro)
	if i < 0 {
		t.Fatalf("docs/COST.md has no %q", intro)
	}
	quoted := doc[i+len(intro):]
	quoted = quoted[:strings.Index(quoted, "```\n")]
	dev, err := os.ReadFile(filepath.Join("testdata", "golden", "dev.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if quoted != string(dev) {
		t.Errorf("docs/COST.md's table of dev is not testdata/golden/dev.txt:\n%s", quoted)
	}
}
