package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// SetKubernetesVersion records version as kubernetes.version in the
// environment's own file (not base.yaml, which other environments share),
// editing only that one line or adding it, so comments and layout stay.
// It returns the file written.
func SetKubernetesVersion(envsDir, env, version string) (string, error) {
	path := filepath.Join(envsDir, env+".yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	out, err := setNestedScalar(data, "kubernetes", "version", version)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return "", fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("replacing %s: %w", path, err)
	}
	if _, err := Load(path); err != nil {
		return path, fmt.Errorf("%s no longer loads after setting %s.%s: %w", path, "kubernetes", "version", err)
	}
	return path, nil
}

// setNestedScalar sets top.key to value in a YAML document, textually: the
// value's line is rewritten in place, or a line is added under top, or
// top is added at the end.
func setNestedScalar(data []byte, top, key, value string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the document is not a mapping")
	}
	lines := strings.SplitAfter(string(data), "\n")
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != top {
			continue
		}
		m := root.Content[i+1]
		if m.Kind != yaml.MappingNode || m.Style&yaml.FlowStyle != 0 {
			return nil, fmt.Errorf("%s is not a block mapping; set %s.%s: %s by hand", top, top, key, value)
		}
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value != key {
				continue
			}
			v := m.Content[j+1]
			if v.Kind != yaml.ScalarNode || v.Line != m.Content[j].Line {
				return nil, fmt.Errorf("%s.%s is not a one-line value; set it to %s by hand", top, key, value)
			}
			l := lines[v.Line-1]
			start := v.Column - 1
			end := start + len(v.Value)
			if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
				end += 2
			}
			if end > len(l) || strings.TrimSpace(l[start:end]) == "" {
				return nil, fmt.Errorf("%s.%s: cannot locate its value on line %d; set it to %s by hand", top, key, v.Line, value)
			}
			lines[v.Line-1] = l[:start] + value + l[end:]
			return []byte(strings.Join(lines, "")), nil
		}
		// Add the key as the mapping's first entry, at its indentation.
		indent := strings.Repeat(" ", m.Content[0].Column-1)
		at := m.Content[0].Line - 1
		lines = append(lines[:at], append([]string{indent + key + ": " + value + "\n"}, lines[at:]...)...)
		return []byte(strings.Join(lines, "")), nil
	}
	var b bytes.Buffer
	b.Write(data)
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%s:\n  %s: %s\n", top, key, value)
	return b.Bytes(), nil
}
