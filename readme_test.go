package kforge

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/kforge/kforge/internal/testutil/golden"
)

// TestModuleReadmesListTheirInputsAndOutputs keeps the Inputs and Outputs
// tables of every module's README as the module declares them: the
// variable and output blocks are the one home of a name, its description,
// type and default, and the README shows them. A change to a declaration
// is followed by `make golden`, which rewrites the two tables.
func TestModuleReadmesListTheirInputsAndOutputs(t *testing.T) {
	for _, module := range terraformModules(t) {
		t.Run(path.Base(module), func(t *testing.T) {
			decl, err := readDeclarations(module)
			if err != nil {
				t.Fatal(err)
			}
			readme := module + "/README.md"
			doc, err := fs.ReadFile(Terraform, readme)
			if err != nil {
				t.Fatalf("every module has a README: %v", err)
			}
			got, err := replaceTable(string(doc), "Inputs", decl.inputsTable())
			if err == nil {
				got, err = replaceTable(got, "Outputs", decl.outputsTable())
			}
			if err != nil {
				t.Fatalf("%s: %v", readme, err)
			}
			golden.Assert(t, readme, []byte(got))
		})
	}
}

// terraformModules lists the root module and every module under
// terraform/modules, as paths in Terraform.
func terraformModules(t *testing.T) []string {
	t.Helper()
	modules, err := fs.Glob(Terraform, "terraform/modules/*")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"terraform/cluster"}, modules...)
}

type variable struct {
	name, description, typ, dflt string
	hasDefault                   bool
}

type output struct{ name, description string }

type declarations struct {
	variables []variable
	outputs   []output
}

// readDeclarations reads the variable and output blocks of a module's .tf
// files, in file order and, within a file, in the order written.
func readDeclarations(module string) (declarations, error) {
	var d declarations
	files, err := fs.Glob(Terraform, module+"/*.tf")
	if err != nil {
		return d, err
	}
	for _, name := range files {
		src, err := fs.ReadFile(Terraform, name)
		if err != nil {
			return d, err
		}
		file, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		if diags.HasErrors() {
			return d, diags
		}
		for _, block := range file.Body.(*hclsyntax.Body).Blocks {
			if (block.Type != "variable" && block.Type != "output") || len(block.Labels) != 1 {
				continue
			}
			attrs := block.Body.Attributes
			desc, err := literalString(attrs["description"])
			if err != nil {
				return d, fmt.Errorf("%s %q: description: %w", block.Type, block.Labels[0], err)
			}
			switch block.Type {
			case "variable":
				v := variable{name: block.Labels[0], description: desc, typ: source(src, attrs["type"])}
				if a := attrs["default"]; a != nil {
					v.hasDefault, v.dflt = true, source(src, a)
				}
				d.variables = append(d.variables, v)
			case "output":
				d.outputs = append(d.outputs, output{name: block.Labels[0], description: desc})
			}
		}
	}
	return d, nil
}

// literalString is a description's value: a string with no reference.
func literalString(a *hclsyntax.Attribute) (string, error) {
	if a == nil {
		return "", fmt.Errorf("missing: every variable and output is described")
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String {
		return "", fmt.Errorf("not a literal string")
	}
	return v.AsString(), nil
}

var spaces = regexp.MustCompile(`\s+`)

// source is an attribute's expression as written, without its comments,
// on one line.
func source(src []byte, a *hclsyntax.Attribute) string {
	if a == nil {
		return ""
	}
	text := slices.Clone(a.Expr.Range().SliceBytes(src))
	tokens, _ := hclsyntax.LexExpression(text, "", hcl.InitialPos)
	for _, tok := range tokens {
		if tok.Type == hclsyntax.TokenComment {
			for i := tok.Range.Start.Byte; i < tok.Range.End.Byte; i++ {
				text[i] = ' '
			}
		}
	}
	return strings.TrimSpace(spaces.ReplaceAllString(string(text), " "))
}

func (d declarations) inputsTable() string {
	var b strings.Builder
	b.WriteString("| Name | Description | Type | Default | Required |\n| --- | --- | --- | --- | --- |\n")
	for _, v := range d.variables {
		dflt, required := "n/a", "yes"
		if v.hasDefault {
			dflt, required = code(v.dflt), "no"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", v.name, cell(v.description), code(v.typ), dflt, required)
	}
	return b.String()
}

func (d declarations) outputsTable() string {
	var b strings.Builder
	b.WriteString("| Name | Description |\n| --- | --- |\n")
	for _, o := range d.outputs {
		fmt.Fprintf(&b, "| `%s` | %s |\n", o.name, cell(o.description))
	}
	return b.String()
}

// cell keeps a description inside its table cell, and its placeholders
// such as <domain> in the text (unescaped, Markdown takes them for HTML).
var cellEscapes = strings.NewReplacer("|", `\|`, "<", `\<`)

func cell(s string) string {
	return cellEscapes.Replace(spaces.ReplaceAllString(s, " "))
}

// code is s as inline code in a table cell.
func code(s string) string { return "`" + strings.ReplaceAll(s, "|", `\|`) + "`" }

// replaceTable puts table in place of the first table under the heading
// "## <heading>".
func replaceTable(doc, heading, table string) (string, error) {
	lines := strings.SplitAfter(doc, "\n")
	at := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "## "+heading {
			at = i
			break
		}
	}
	if at < 0 {
		return "", fmt.Errorf("no %q section", "## "+heading)
	}
	start := at + 1
	for start < len(lines) && !strings.HasPrefix(lines[start], "|") {
		if strings.HasPrefix(lines[start], "## ") {
			return "", fmt.Errorf("the %q section has no table", "## "+heading)
		}
		start++
	}
	end := start
	for end < len(lines) && strings.HasPrefix(lines[end], "|") {
		end++
	}
	return strings.Join(lines[:start], "") + table + strings.Join(lines[end:], ""), nil
}

// TestModuleReadmesNameTheirFiles keeps each README's "Files:" paragraph
// true: it names every .tf file of the module but the three every module
// has (variables.tf, outputs.tf, versions.tf), and no file that is gone.
func TestModuleReadmesNameTheirFiles(t *testing.T) {
	for _, module := range terraformModules(t) {
		t.Run(path.Base(module), func(t *testing.T) {
			doc, err := fs.ReadFile(Terraform, module+"/README.md")
			if err != nil {
				t.Fatal(err)
			}
			_, files, ok := strings.Cut(string(doc), "\nFiles:")
			if !ok {
				t.Fatalf("%s/README.md has no \"Files:\" paragraph", module)
			}
			files, _, _ = strings.Cut(files, "\n\n")
			named := map[string]bool{}
			for _, m := range tfFileName.FindAllStringSubmatch(files, -1) {
				named[m[1]] = true
			}
			have, err := fs.Glob(Terraform, module+"/*.tf")
			if err != nil {
				t.Fatal(err)
			}
			exists := map[string]bool{}
			for _, f := range have {
				name := path.Base(f)
				exists[name] = true
				if !named[name] && name != "variables.tf" && name != "outputs.tf" && name != "versions.tf" {
					t.Errorf("%s/README.md: \"Files:\" does not name %s", module, name)
				}
			}
			for name := range named {
				if !exists[name] {
					t.Errorf("%s/README.md: \"Files:\" names %s, which the module does not have", module, name)
				}
			}
		})
	}
}

var tfFileName = regexp.MustCompile("`([A-Za-z0-9_.-]+\\.tf)`")
