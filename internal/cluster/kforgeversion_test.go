package cluster

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/config"
)

// Builds order by release, then by git describe's commits past it; a
// build that names no release is not ordered.
func TestParseKforgeBuild(t *testing.T) {
	for _, tc := range []struct {
		older, newer string
	}{
		{"v1.4.0", "v1.5.0"},
		{"v1.4.0", "v1.4.1"},
		{"v1.9.0", "v1.10.0"},
		{"v1.4.0", "v1.4.0-1-gabc1234"},
		{"v1.4.0-2-gabc1234", "v1.4.0-10-gdef5678-dirty"},
		{"v1.4.0-9-gabc1234", "v1.4.1"},
		{"v1.5.0-rc.1", "v1.5.0"},
	} {
		older, ok1 := parseKforgeBuild(tc.older)
		newer, ok2 := parseKforgeBuild(tc.newer)
		if !ok1 || !ok2 || !older.olderThan(newer) || newer.olderThan(older) {
			t.Errorf("%s vs %s: parsed %v %v, want %s older", tc.older, tc.newer, ok1, ok2, tc.older)
		}
	}
	same, _ := parseKforgeBuild("v1.4.0-dirty")
	if release, _ := parseKforgeBuild("v1.4.0"); same.olderThan(release) || release.olderThan(same) {
		t.Error("a dirty build of a release is that release")
	}
	for _, v := range []string{"", "dev", "a7b922e", "a7b922e-dirty", "1.4.0", "v1.4", "v1.4.0+build.5", "latest"} {
		if b, ok := parseKforgeBuild(v); ok {
			t.Errorf("%q parsed as %+v; want no release", v, b)
		}
	}
}

// An older release's up is refused before Terraform plans, naming both
// releases and both ways out; plan warns; --allow-downgrade applies with
// a note; an equal or newer build, or a build or record naming no
// release, is let through (with a note when only the record names one).
func TestKforgeVersionVerdict(t *testing.T) {
	for _, tc := range []struct {
		name, recorded, running string
		applying, allow         bool
		note, err               string
	}{
		{name: "refused", recorded: "v1.5.0", running: "v1.4.2", applying: true,
			err: "the last apply to prod was by kforge v1.5.0, newer than this kforge v1.4.2"},
		{name: "plan warns", recorded: "v1.5.0", running: "v1.4.2",
			note: "warning: the last apply to prod was by kforge v1.5.0, newer than this kforge v1.4.2: `kforge up` refuses"},
		{name: "allowed", recorded: "v1.5.0", running: "v1.4.2", applying: true, allow: true,
			note: "note: kforge v1.4.2 applies over the newer kforge v1.5.0"},
		{name: "commits past the same release", recorded: "v1.5.0-4-gabc1234", running: "v1.5.0-1-gdef5678", applying: true,
			err: "newer than this kforge v1.5.0-1-gdef5678"},
		{name: "same", recorded: "v1.5.0", running: "v1.5.0", applying: true},
		{name: "newer", recorded: "v1.4.2", running: "v1.5.0", applying: true},
		{name: "first apply with the output", recorded: "", running: "v1.5.0", applying: true},
		{name: "development build recorded", recorded: "a7b922e-dirty", running: "v1.4.2", applying: true},
		{name: "development build running", recorded: "v1.5.0", running: "dev", applying: true,
			note: "note: the last apply to prod was by kforge v1.5.0; this build (dev) names no release"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			note, err := kforgeVersionVerdict("prod", tc.recorded, tc.running, tc.applying, tc.allow)
			if tc.err == "" && err != nil || tc.err != "" && (ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v; want %q with exit code 2", err, tc.err)
			}
			if err != nil {
				for _, fix := range []string{"run kforge " + tc.recorded + " or later", "`kforge up prod --allow-downgrade`", "Nothing was planned"} {
					if !strings.Contains(err.Error(), fix) {
						t.Errorf("refusal %q does not say %q", err, fix)
					}
				}
			}
			if tc.note == "" && note != "" || !strings.HasPrefix(note, tc.note) {
				t.Errorf("note %q; want one starting %q", note, tc.note)
			}
		})
	}
}

// up reads the recorded build first among the state's checks, so an older
// release is refused before any AWS call: this environment has no AWS to
// call (its endpoint is a closed local port), and its state names a
// cluster key that would be read next.
func TestCheckStateRefusesAnOlderKforgeFirst(t *testing.T) {
	ui := &recordingUI{}
	e := &Env{Name: "prod", Config: &config.Cluster{Region: "eu-west-1"}, Endpoint: "http://127.0.0.1:9", opts: Options{Version: "v1.4.2", UI: ui}}
	state := stateOutputs{
		"kforge_version": json.RawMessage(`"v1.5.0"`),
		"kms_key_arn":    json.RawMessage(`"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"`),
	}
	images, err := e.checkState(context.Background(), state, true, false)
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "newer than this kforge v1.4.2") || images != nil {
		t.Fatalf("checkState: %v, %v; want the downgrade refused, exit code 2", images, err)
	}
}

// docs/OPERATIONS.md quotes the refusal as kforge prints it.
func TestOperationsQuotesTheDowngradeRefusal(t *testing.T) {
	_, err := kforgeVersionVerdict("dev", "v1.5.0", "v1.4.2", true, false)
	if err == nil {
		t.Fatal("no refusal")
	}
	data, rerr := os.ReadFile(filepath.Join("..", "..", "docs", "OPERATIONS.md"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if want := "\nError: " + err.Error() + "\n"; !strings.Contains(string(data), want) {
		t.Errorf("docs/OPERATIONS.md does not quote the refusal as printed:%s", want)
	}
}
