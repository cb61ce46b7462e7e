package conformance

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// yamlBlock is a fenced yaml block of a Markdown page.
var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// 24. Every manifest docs/WORKLOADS.md shows an application team passes a
// server-side dry run with strict field validation, without a warning, on
// the API server that runs kforge's add-ons and admission policies (checks
// 4, 21, 23), so the page cannot teach a field the API refuses or a
// manifest kforge warns of.
func checkWorkloadsPageManifests(t *testing.T, e *env, _ artifacts) {
	page, err := os.ReadFile("../../docs/WORKLOADS.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlock.FindAllSubmatch(page, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/WORKLOADS.md shows no yaml block")
	}
	for i, b := range blocks {
		// An excerpt of an environment file is kforge's, not the API
		// server's: internal/config loads it.
		if bytes.HasPrefix(b[1], []byte("# envs/")) {
			continue
		}
		path := e.write(fmt.Sprintf("workloads-%d.yaml", i), b[1])
		out, err := e.kubectl("create", "--dry-run=server", "--validate=strict", "-f", path)
		switch {
		case err != nil:
			t.Errorf("docs/WORKLOADS.md's yaml block %d is refused: %v\n%s", i+1, err, b[1])
		case strings.Contains(out, "Warning:"):
			t.Errorf("docs/WORKLOADS.md's yaml block %d draws a warning: %s\n%s", i+1, out, b[1])
		default:
			t.Logf("block %d: %s", i+1, out)
		}
	}
}
