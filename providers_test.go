package kforge

import (
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestProviderConfigurationsAgree keeps the root module's two AWS provider
// configurations in step: the one without default tags (alias
// kforge_tags, for S3 objects and hosted zones, which take 10 tags) must
// set every argument the default one sets, to the same expression, and
// point each of its endpoints where the default one points that service.
// Terraform has no way to share a provider block, so this is the check
// that a setting added to one is added to the other.
func TestProviderConfigurationsAgree(t *testing.T) {
	const file = "terraform/cluster/providers.tf"
	src, err := fs.ReadFile(Terraform, file)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, file, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	type provider struct {
		args      map[string]string
		endpoints map[string]string
		blocks    []string
	}
	byAlias := map[string]provider{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "provider" || b.Labels[0] != "aws" {
			continue
		}
		p := provider{args: map[string]string{}, endpoints: map[string]string{}}
		for name, a := range b.Body.Attributes {
			p.args[name] = source(src, a)
		}
		for _, inner := range b.Body.Blocks {
			p.blocks = append(p.blocks, strings.Join(append([]string{inner.Type}, inner.Labels...), " "))
			if inner.Type == "dynamic" && inner.Labels[0] == "endpoints" {
				for _, content := range inner.Body.Blocks {
					for name, a := range content.Body.Attributes {
						p.endpoints[name] = source(src, a)
					}
				}
			}
		}
		alias := p.args["alias"]
		delete(p.args, "alias")
		byAlias[alias] = p
	}
	main, tagless := byAlias[""], byAlias[`"kforge_tags"`]
	if main.args == nil || tagless.args == nil {
		t.Fatalf("%s: want the default aws provider and alias kforge_tags, found %v", file, slices.Sorted(maps.Keys(byAlias)))
	}
	if !maps.Equal(main.args, tagless.args) {
		t.Errorf("%s: the two aws providers' arguments differ:\n default:     %v\n kforge_tags: %v", file, main.args, tagless.args)
	}
	for service, to := range tagless.endpoints {
		if main.endpoints[service] != to {
			t.Errorf("%s: kforge_tags points %s at %s, the default provider at %q", file, service, to, main.endpoints[service])
		}
	}
	for _, b := range tagless.blocks {
		if b != "dynamic endpoints" {
			t.Errorf("%s: kforge_tags has a %s block; it carries no default tags and no other settings", file, b)
		}
	}
}
