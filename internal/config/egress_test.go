package config

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// network.workerEgress reaches the worker_egress variable one rule each:
// tcp by default, one port as a range of one, a range as it is.
func TestWorkerEgressRendersEachRule(t *testing.T) {
	doc := strings.Replace(validDoc, "adminCIDRs: [198.51.100.0/24]", `adminCIDRs: [198.51.100.0/24]
  workerEgress:
    - {cidr: 10.0.0.0/16, ports: 5432, description: PostgreSQL in the VPC}
    - {cidr: 203.0.113.0/24, protocol: udp, ports: 5000-5010}`, 1)
	c, err := loadString(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []EgressInputs{
		{CIDR: "10.0.0.0/16", Protocol: "tcp", FromPort: 5432, ToPort: 5432, Description: "PostgreSQL in the VPC"},
		{CIDR: "203.0.113.0/24", Protocol: "udp", FromPort: 5000, ToPort: 5010},
	}
	if got := c.TFVars().WorkerEgress; !reflect.DeepEqual(got, want) {
		t.Errorf("worker_egress = %+v, want %+v", got, want)
	}
}

// The environment file excerpts of docs/WORKLOADS.md (its yaml blocks that
// start with "# envs/") name only fields kforge has, and their outbound
// rules pass kforge's checks.
func TestWorkloadsPageEnvironmentExcerpts(t *testing.T) {
	page, err := os.ReadFile("../../docs/WORKLOADS.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(# envs/.*?)```").FindAllSubmatch(page, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/WORKLOADS.md shows no environment file excerpt")
	}
	for i, b := range blocks {
		var excerpt Cluster
		dec := yaml.NewDecoder(bytes.NewReader(b[1]))
		dec.KnownFields(true)
		if err := dec.Decode(&excerpt); err != nil {
			t.Errorf("excerpt %d: %v\n%s", i+1, err, b[1])
			continue
		}
		var rules []string
		for _, r := range excerpt.Network.WorkerEgress {
			rules = append(rules, fmt.Sprintf("{cidr: %q, protocol: %q, ports: %q, description: %q}", r.CIDR, r.Protocol, r.Ports, r.Description))
		}
		doc := strings.Replace(validDoc, "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: ["+strings.Join(rules, ", ")+"]", 1)
		if _, err := loadString(t, doc); err != nil {
			t.Errorf("excerpt %d's rules are refused: %v\n%s", i+1, err, b[1])
		}
	}
}
