package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds how many YAML nodes one file may expand to, so aliases
// that refer to aliases cannot make loading take exponential time.
const maxNodes = 100000

// position is where a value was set.
type position struct {
	file string
	line int
}

// decoder copies a yaml.v3 node tree onto the Cluster structs, recording the
// position of every field it sets and collecting every problem instead of
// stopping at the first.
type decoder struct {
	file  string
	set   map[string]position
	errs  []FieldError
	nodes int
	// bad holds paths whose value could not be decoded.
	bad map[string]bool
}

func (d *decoder) fail(line int, path, msg, fix string) {
	d.errs = append(d.errs, FieldError{File: d.file, Line: line, Field: path, Message: msg, Fix: fix})
	if d.bad == nil {
		d.bad = map[string]bool{}
	}
	d.bad[path] = true
	// Not set: the default applies, so rules do not see a half-decoded value.
	delete(d.set, path)
}

// undecodable reports whether path, or a section containing it, failed to decode.
func (d *decoder) undecodable(path string) bool {
	for p := path; ; p = parentPath(p) {
		if d.bad[p] && p != "" {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// decode sets v from node. keyLine is the line of the mapping key naming v
// (the position recorded for path).
func (d *decoder) decode(node *yaml.Node, v reflect.Value, path string, keyLine int) {
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(node.Line, path, fmt.Sprintf("the document expands to more than %d values (aliases?)", maxNodes),
				"write the configuration without deeply nested aliases")
		}
		return
	}
	for node.Kind == yaml.AliasNode {
		if node.Alias == nil {
			d.fail(node.Line, path, "alias refers to nothing", "define the anchor before using it")
			return
		}
		node = node.Alias
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		// "key:" with no value leaves the field unset, so defaults apply.
		return
	}
	d.set[path] = position{d.file, keyLine}

	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(node, v, path)
	case reflect.Map:
		d.decodeMap(node, v, path)
	case reflect.Slice:
		d.decodeList(node, v, path)
	case reflect.String:
		if node.Kind != yaml.ScalarNode {
			d.fail(node.Line, path, "expected a single value, got "+kindName(node), "write the value on the same line as the key")
			return
		}
		v.SetString(node.Value)
	case reflect.Int:
		if node.Kind != yaml.ScalarNode || node.Tag != "!!int" {
			d.fail(node.Line, path, "expected a whole number, got "+describe(node), "write a number without quotes, for example 3")
			return
		}
		var n int64
		if err := node.Decode(&n); err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			d.fail(node.Line, path, fmt.Sprintf("%q is not a usable whole number", node.Value), "write a number such as 3")
			return
		}
		v.SetInt(n)
	case reflect.Bool:
		if node.Kind != yaml.ScalarNode || node.Tag != "!!bool" {
			d.fail(node.Line, path, "expected true or false, got "+describe(node), "write true or false without quotes")
			return
		}
		var b bool
		if err := node.Decode(&b); err != nil {
			d.fail(node.Line, path, fmt.Sprintf("%q is not true or false", node.Value), "write true or false")
			return
		}
		v.SetBool(b)
	default:
		// Unreachable for the Cluster types; guards future fields.
		d.fail(node.Line, path, fmt.Sprintf("cannot decode into %s", v.Type()), "report this as a kforge bug")
	}
}

func (d *decoder) decodeStruct(node *yaml.Node, v reflect.Value, path string) {
	if node.Kind != yaml.MappingNode {
		d.fail(node.Line, path, "expected a mapping of keys to values, got "+describe(node), "indent the keys of this section under it")
		return
	}
	fields := structFields(v.Type())
	d.eachEntry(node, path, func(keyNode, valNode *yaml.Node, key, child string) {
		idx, known := fields[key]
		if !known {
			d.fail(keyNode.Line, child, "unknown key", unknownKeyFix(key, path, v.Type()))
			return
		}
		d.decode(valNode, v.Field(idx), child, keyNode.Line)
	})
}

// eachEntry calls fn once per key of a mapping node, with the key's path;
// a key that is not a plain string, or is set twice, is reported instead.
func (d *decoder) eachEntry(node *yaml.Node, path string, fn func(keyNode, valNode *yaml.Node, key, child string)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		keyNode, valNode := node.Content[i], node.Content[i+1]
		key, ok := d.mappingKey(keyNode, path)
		if !ok {
			continue
		}
		child := joinPath(path, key)
		if first, dup := seen[key]; dup {
			d.fail(keyNode.Line, child, fmt.Sprintf("key set twice (first on line %d)", first), "keep one of the two")
			continue
		}
		seen[key] = keyNode.Line
		fn(keyNode, valNode, key, child)
	}
}

func (d *decoder) decodeMap(node *yaml.Node, v reflect.Value, path string) {
	if node.Kind != yaml.MappingNode {
		d.fail(node.Line, path, "expected a mapping of names to values, got "+describe(node), "write one \"name: value\" per line under this key")
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	d.eachEntry(node, path, func(keyNode, valNode *yaml.Node, key, child string) {
		// Start from the value the base file set, so maps merge key by key.
		elem := reflect.New(v.Type().Elem()).Elem()
		if old := v.MapIndex(reflect.ValueOf(key)); old.IsValid() {
			elem.Set(old)
		}
		d.decode(valNode, elem, child, keyNode.Line)
		v.SetMapIndex(reflect.ValueOf(key), elem)
	})
}

func (d *decoder) decodeList(node *yaml.Node, v reflect.Value, path string) {
	if node.Kind != yaml.SequenceNode {
		d.fail(node.Line, path, "expected a list, got "+describe(node), "write the items as a list, for example [a, b] or one \"- item\" per line")
		return
	}
	// Lists replace the base file's list rather than extending it.
	list := reflect.MakeSlice(v.Type(), len(node.Content), len(node.Content))
	for i, item := range node.Content {
		d.decode(item, list.Index(i), fmt.Sprintf("%s[%d]", path, i), item.Line)
	}
	v.Set(list)
}

// mappingKey returns a mapping key's text, reporting keys that are not plain strings.
func (d *decoder) mappingKey(keyNode *yaml.Node, path string) (string, bool) {
	if keyNode.Kind == yaml.AliasNode && keyNode.Alias != nil {
		keyNode = keyNode.Alias
	}
	if keyNode.Kind != yaml.ScalarNode {
		d.fail(keyNode.Line, path, "a key must be a plain name, got "+kindName(keyNode), "write the key as a plain word")
		return "", false
	}
	if keyNode.Tag == "!!merge" {
		d.fail(keyNode.Line, joinPath(path, "<<"), "YAML merge keys (<<) are not supported",
			"share settings through a base file (base: base.yaml) instead")
		return "", false
	}
	return keyNode.Value, true
}

// structFields maps yaml key names to field indexes, skipping yaml:"-".
func structFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name := yamlName(t.Field(i))
		if name == "" {
			continue
		}
		out[name] = i
	}
	return out
}

func yamlName(f reflect.StructField) string {
	tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
	if tag == "-" || tag == "" || !f.IsExported() {
		return ""
	}
	return tag
}

var simpleKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// joinPath appends a key to a field path; keys that are not simple words
// (label keys such as node.kubernetes.io/role) are quoted in brackets.
func joinPath(path, key string) string {
	if !simpleKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// parentPath strips the last segment of a path made by joinPath.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndex(path, "["); i >= 0 {
			return path[:i]
		}
		return ""
	}
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[:i]
	}
	return ""
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return "a value"
	}
}

func describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return kindName(n)
	}
	kind := map[string]string{"!!str": "text", "!!int": "a number", "!!float": "a decimal number", "!!bool": "a boolean"}[n.Tag]
	if kind == "" {
		kind = "a value"
	}
	return fmt.Sprintf("%s %q", kind, n.Value)
}

// unknownKeyFix suggests the key the user probably meant: a close name at the
// same level, or the same name elsewhere in the schema.
func unknownKeyFix(key, parent string, t reflect.Type) string {
	var names []string
	for name := range structFields(t) {
		names = append(names, name)
	}
	sort.Strings(names)
	if best := closest(key, names); best != "" {
		return fmt.Sprintf("did you mean %s?", joinPath(parent, best))
	}
	if elsewhere := findKey(reflect.TypeOf(Cluster{}), "", key); elsewhere != "" {
		return fmt.Sprintf("%s belongs at %s", key, elsewhere)
	}
	where := "the top level"
	if parent != "" {
		where = parent
	}
	return fmt.Sprintf("remove it; keys allowed in %s: %s (see docs/CONFIG.md)", where, strings.Join(names, ", "))
}

// findKey finds a struct field by yaml name (case-insensitively) anywhere in
// the schema and returns its path; worker pool fields appear as workerPools.<pool>.
func findKey(t reflect.Type, prefix, key string) string {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		path := joinPath(prefix, name)
		if strings.EqualFold(name, key) && prefix != "" {
			return path
		}
		ft := f.Type
		if ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct {
			path += ".<name>"
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			if found := findKey(ft, path, key); found != "" {
				return found
			}
		}
	}
	return ""
}

// closest returns the candidate nearest to key when it is plausibly a typo.
func closest(key string, candidates []string) string {
	best, bestDist := "", 1<<30
	for _, c := range candidates {
		if strings.EqualFold(c, key) {
			return c
		}
		lk, lc := strings.ToLower(key), strings.ToLower(c)
		if len(lc) >= 3 && (strings.HasPrefix(lk, lc) || strings.HasPrefix(lc, lk) && len(lk) >= 3) {
			return c // minimum -> min, instance -> instanceTypes
		}
		dist := levenshtein(lk, lc)
		if dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := 2
	if len(key) <= 4 {
		limit = 1
	}
	if bestDist <= limit {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
