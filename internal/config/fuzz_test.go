package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader as an environment file (with
// envs/base.yaml available as its base) and checks it never panics and that
// every failure is a *ValidationError naming a file; a successful load must
// render.
// parserLine matches a line number in the parser's own message.
var parserLine = regexp.MustCompile(`\bline \d+`)

func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(envsDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files in %s: %v", envsDir, err)
	}
	base, err := os.ReadFile(filepath.Join(envsDir, "base.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(validDoc))
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a]\nc: [*b, *b]\n"))
	f.Add([]byte("workerPools:\n  general:\n    <<: {min: 1}\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		fs := memFS(map[string]string{"envs/dev.yaml": string(data), "envs/base.yaml": string(base)})
		c, err := loader{readFile: fs}.load("envs/dev.yaml")
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error is %T, want *ValidationError: %v", err, err)
			}
			if len(verr.Errors) == 0 {
				t.Fatal("ValidationError without errors")
			}
			for _, fe := range verr.Errors {
				if fe.File == "" || fe.Message == "" || fe.Line < 0 {
					t.Fatalf("incomplete field error %+v", fe)
				}
				// The parser names a line in some syntax errors ("line 3: ...")
				// and not in others; when it does, the line must be extracted.
				if strings.HasPrefix(fe.Message, "YAML syntax error") && fe.Line == 0 &&
					parserLine.MatchString(fe.Message) {
					t.Fatalf("syntax error line not extracted: %+v", fe)
				}
			}
			return
		}
		if _, err := c.TFVarsJSON(); err != nil {
			t.Fatalf("valid configuration does not render: %v", err)
		}
	})
}
