package terraform

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// policyDocument is an IAM policy document; Action and Resource may be a
// string or a list in JSON.
type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Action    stringList                `json:"Action"`
	Resource  stringList                `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

// readOnlyPrefixes name actions that change nothing; only they may apply
// to Resource "*".
var readOnlyPrefixes = []string{"Describe", "List", "Get"}

// policyProblems checks the least-privilege rules of the cluster's
// policies: no wildcard in an action, no "*" resource on a mutating
// action, and the tag conditions on autoscaler and EFS CSI mutations.
func policyProblems(doc policyDocument, cluster string) []string {
	var problems []string
	conditions := map[string]map[string]map[string]any{}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			continue
		}
		for _, action := range st.Action {
			if strings.Contains(action, "*") {
				problems = append(problems, fmt.Sprintf("statement %q allows wildcard action %q", st.Sid, action))
			}
			_, name, _ := strings.Cut(action, ":")
			readOnly := slices.ContainsFunc(readOnlyPrefixes, func(p string) bool { return strings.HasPrefix(name, p) })
			if !readOnly && slices.Contains(st.Resource, "*") {
				problems = append(problems, fmt.Sprintf("statement %q allows mutating action %q on resource *", st.Sid, action))
			}
			conditions[action] = st.Condition
		}
	}
	required := map[string][2]string{
		"autoscaling:SetDesiredCapacity":                  {"aws:ResourceTag/k8s.io/cluster-autoscaler/" + cluster, "owned"},
		"autoscaling:TerminateInstanceInAutoScalingGroup": {"aws:ResourceTag/k8s.io/cluster-autoscaler/" + cluster, "owned"},
		"elasticfilesystem:CreateAccessPoint":             {"aws:RequestTag/efs.csi.aws.com/cluster", "true"},
		"elasticfilesystem:TagResource":                   {"aws:RequestTag/efs.csi.aws.com/cluster", "true"},
		"elasticfilesystem:DeleteAccessPoint":             {"aws:ResourceTag/efs.csi.aws.com/cluster", "true"},
	}
	for action, cond := range required {
		c, present := conditions[action]
		if !present {
			continue
		}
		if got := c["StringEquals"][cond[0]]; got != cond[1] {
			problems = append(problems, fmt.Sprintf("%s is not conditioned on StringEquals %s = %s (got %v)", action, cond[0], cond[1], c))
		}
	}
	return problems
}

// TestGoldenPoliciesFollowRules checks the reviewed golden documents
// offline, and that the checker itself rejects the mistakes it exists for.
func TestGoldenPoliciesFollowRules(t *testing.T) {
	seen := map[string]bool{}
	for key := range policyNames {
		raw, err := os.ReadFile(filepath.Join("testdata", "iam", key+".json"))
		if err != nil {
			t.Fatalf("golden policy %s: %v", key, err)
		}
		doc, err := decodePolicyDocument(string(raw))
		if err != nil {
			t.Fatalf("golden policy %s: %v", key, err)
		}
		for _, p := range policyProblems(doc, "kforge-local") {
			t.Errorf("golden policy %s: %s", key, p)
		}
		for _, st := range doc.Statement {
			for _, a := range st.Action {
				seen[a] = true
			}
		}
	}
	for _, a := range []string{"autoscaling:SetDesiredCapacity", "elasticfilesystem:CreateAccessPoint", "elasticfilesystem:DeleteAccessPoint", "route53:ChangeResourceRecordSets"} {
		if !seen[a] {
			t.Errorf("no golden policy grants %s", a)
		}
	}

	bad := []struct {
		name string
		doc  string
	}{
		{"star action", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}`},
		{"service star", `{"Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"arn:aws:s3:::b"}]}`},
		{"mutation on star", `{"Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":"*"}]}`},
		{"autoscaler unconditioned", `{"Statement":[{"Effect":"Allow","Action":["autoscaling:SetDesiredCapacity"],"Resource":"arn:aws:autoscaling:x"}]}`},
		{"efs wrong tag", `{"Statement":[{"Effect":"Allow","Action":["elasticfilesystem:DeleteAccessPoint"],"Resource":"arn:x","Condition":{"StringEquals":{"aws:RequestTag/efs.csi.aws.com/cluster":"true"}}}]}`},
	}
	for _, tc := range bad {
		doc, err := decodePolicyDocument(tc.doc)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(policyProblems(doc, "kforge-local")) == 0 {
			t.Errorf("%s: the checker found no problem", tc.name)
		}
	}
}
