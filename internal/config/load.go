package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxFileSize bounds a configuration file; real ones are a few KB.
const maxFileSize = 1 << 20

// envNamePattern is what an environment name may look like (it becomes a file
// name, a work directory and a tag value).
var envNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)

// LoadEnv loads envs/<name>.yaml from envsDir. Invalid input, including a
// missing environment file, is a *ValidationError.
func LoadEnv(envsDir, name string) (*Cluster, error) {
	path := filepath.Join(envsDir, name+".yaml")
	invalid := func(message, fix string) error {
		return &ValidationError{Errors: []FieldError{{File: path, Message: message, Fix: fix}}}
	}
	if fi, err := os.Stat(envsDir); err == nil && !fi.IsDir() {
		return nil, invalid(envsDir+" is not a directory", "pass the directory holding the <env>.yaml files as --envs-dir (or KFORGE_ENVS_DIR)")
	}
	switch {
	case !envNamePattern.MatchString(name):
		return nil, invalid(fmt.Sprintf("%q is not a valid environment name", name), envChoices(envsDir, "use a lowercase name such as dev, staging, prod or local"))
	case name == "base":
		return nil, invalid("base.yaml holds the settings environments share; it is not an environment", envChoices(envsDir, "name an environment"))
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, invalid(fmt.Sprintf("environment %q has no configuration file", name), "create "+path+", or "+envChoices(envsDir, "run kforge where the environment files are"))
	}
	return Load(path)
}

// envChoices is the fix of an environment name that names no file: use
// one of the environments found in envsDir; when there is none, otherwise
// and where kforge looked (run from another directory, the usual mistake).
func envChoices(envsDir, otherwise string) string {
	matches, _ := filepath.Glob(filepath.Join(envsDir, "*.yaml"))
	var names []string
	for _, m := range matches {
		name := strings.TrimSuffix(filepath.Base(m), ".yaml")
		if envNamePattern.MatchString(name) && name != "base" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return otherwise + "; no environment file is in " + envsDir + " (--envs-dir or KFORGE_ENVS_DIR; envs under the working directory by default)"
	}
	sort.Strings(names)
	return "use one of: " + strings.Join(names, ", ")
}

// Load loads one environment file (and the base file it names), fills in
// defaults and validates the result. Invalid input is a *ValidationError;
// other errors (unreadable files) are wrapped I/O errors.
func Load(path string) (*Cluster, error) {
	return loader{readFile: readLimited}.load(path)
}

// loader reads files through readFile so tests and the fuzzer can load
// configurations without touching the disk.
type loader struct {
	readFile func(path string) ([]byte, error)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	return data, nil
}

func (l loader) load(path string) (*Cluster, error) {
	envName := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	c := &Cluster{File: path}
	d := &decoder{file: path, set: map[string]position{}}

	root, err := l.parse(path)
	if err != nil {
		return nil, err
	}

	// The base file is decoded first so the environment file's values win.
	if baseNode, baseLine := topLevelScalar(root, "base"); baseNode != nil {
		basePath := baseNode.Value
		if !filepath.IsAbs(basePath) {
			basePath = filepath.Join(filepath.Dir(path), basePath)
		}
		if _, err := l.readFile(basePath); errors.Is(err, fs.ErrNotExist) {
			return nil, &ValidationError{Errors: []FieldError{{File: path, Line: baseLine, Field: "base",
				Message: fmt.Sprintf("base file %s does not exist", basePath),
				Fix:     "give a path relative to " + filepath.Dir(path) + ", for example base: base.yaml"}}}
		}
		baseRoot, err := l.parse(basePath)
		if err != nil {
			return nil, err
		}
		if nested, line := topLevelScalar(baseRoot, "base"); nested != nil {
			d.errs = append(d.errs, FieldError{File: basePath, Line: line, Field: "base",
				Message: "a base file cannot name another base file",
				Fix:     "move these settings into " + filepath.Base(basePath) + " itself"})
		}
		d.file = basePath
		d.decode(baseRoot, reflect.ValueOf(c).Elem(), "", baseRoot.Line)
		d.file = path
	}
	d.decode(root, reflect.ValueOf(c).Elem(), "", root.Line)

	// Rules run even after decoding problems so every error is reported at
	// once; a value that could not be decoded is left to its default and
	// rule errors about it are dropped, so it is reported once.
	applyDefaults(c, envName, d.set)
	v := &validator{c: c, set: d.set, file: path}
	v.validate()
	for _, fe := range v.errs {
		if !d.undecodable(fe.Field) {
			d.errs = append(d.errs, fe)
		}
	}
	if len(d.errs) > 0 {
		return nil, d.result()
	}
	sortFieldErrors(v.warnings)
	c.Warnings = v.warnings
	return c, nil
}

func (d *decoder) result() error {
	sortFieldErrors(d.errs)
	return &ValidationError{Errors: d.errs}
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parse reads and parses one YAML file into its document's root mapping node
// (never nil without an error); syntax errors become a *ValidationError
// naming the line.
func (l loader) parse(path string) (*yaml.Node, error) {
	data, err := l.readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &ValidationError{Errors: []FieldError{{File: path, Message: "no such file", Fix: "check the path"}}}
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	fail := func(line int, msg, fix string) error {
		return &ValidationError{Errors: []FieldError{{File: path, Line: line, Message: msg, Fix: fix}}}
	}
	if len(data) > maxFileSize {
		return nil, fail(0, fmt.Sprintf("file is larger than %d bytes", maxFileSize), "a cluster configuration is a few KB; check the file")
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fail(0, "file is empty", "write the cluster configuration (see docs/CONFIG.md)")
		}
		return nil, syntaxError(path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fail(extra.Line, "file holds more than one YAML document", "keep one document per file (remove the ---)")
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fail(0, "file is empty", "write the cluster configuration (see docs/CONFIG.md)")
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, fail(root.Line, "file holds no settings", "write the cluster configuration (see docs/CONFIG.md)")
	}
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, "expected a mapping of keys to values at the top level, got "+describe(root),
			"start the file with keys such as name: and region:")
	}
	return root, nil
}

func syntaxError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, m[0]), ": ")
	}
	return &ValidationError{Errors: []FieldError{{
		File: path, Line: line,
		Message: "YAML syntax error: " + msg,
		Fix:     "fix the YAML syntax (indent with spaces, quote values containing ': ' or '#')",
	}}}
}

// topLevelScalar returns the value node of a top-level key when it is a plain
// value, and the key's line.
func topLevelScalar(root *yaml.Node, key string) (*yaml.Node, int) {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == key && v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
			return v, k.Line
		}
	}
	return nil, 0
}
