// Command tfvars renders envs/<env>.yaml into the root module's variables
// for a plan against the local AWS emulator; make-plans.sh uses it to
// produce the plan fixtures of internal/cost and internal/graph.
//
//	go run ./internal/cost/testdata/tfvars -envs envs -endpoint http://127.0.0.1:PORT -agent kforge-agent -ami ami-12c6146b dev
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/kforge/kforge/internal/config"
)

func main() {
	envs := flag.String("envs", "envs", "directory of the environment files")
	endpoint := flag.String("endpoint", "", "emulator endpoint URL (aws_endpoint_url)")
	agent := flag.String("agent", "kforge-agent", "agent_binary_path as seen from the Terraform work directory")
	ami := flag.String("ami", "", "AMI id for environments that pin none (the emulator has no SSM AMI parameters)")
	flag.Parse()
	if flag.NArg() != 1 || *endpoint == "" {
		fmt.Fprintln(os.Stderr, "usage: tfvars -endpoint URL [-envs DIR] [-agent PATH] [-ami ID] ENV")
		os.Exit(2)
	}
	c, err := config.LoadEnv(*envs, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	vars := c.TFVars(config.RenderOptions{AgentBinaryPaths: agents(c, *agent), EndpointURL: *endpoint})
	if vars.AMIID == "" && *ami != "" {
		vars.AMIID = *ami
	}
	// A fresh emulator has no Auto Scaling service-linked role to look up
	// (kforge up creates it before Terraform runs); the plan creates it.
	vars.CreateAutoscalingServiceLinkedRole = true
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vars); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// agents uses the one stand-in file for every architecture the cluster needs.
func agents(c *config.Cluster, path string) map[string]string {
	out := map[string]string{}
	for _, arch := range c.AgentArchitectures() {
		out[arch] = path
	}
	return out
}
