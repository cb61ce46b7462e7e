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

// sessionManagerActions are the only mutating actions allowed on "*":
// ssmmessages defines no resource types, and AWS's Session Manager-only
// instance policy grants UpdateInstanceInformation on "*".
var sessionManagerActions = []string{
	"ssm:UpdateInstanceInformation",
	"ssmmessages:CreateControlChannel",
	"ssmmessages:CreateDataChannel",
	"ssmmessages:OpenControlChannel",
	"ssmmessages:OpenDataChannel",
}

// policyProblems checks the least-privilege rules of the cluster's
// policies: no wildcard in an action, no "*" resource on a mutating
// action, and the tag conditions on autoscaler and EFS CSI mutations.
func policyProblems(doc policyDocument, cluster string) []string {
	var problems []string
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
			if !readOnly && !slices.Contains(sessionManagerActions, action) && slices.Contains(st.Resource, "*") {
				problems = append(problems, fmt.Sprintf("statement %q allows mutating action %q on resource *", st.Sid, action))
			}
			problems = append(problems, conditionProblems(st, action, cluster)...)
		}
	}
	return problems
}

// tagConditions are, per mutating action, the StringEquals conditions of
// which every granting statement must carry one full set: the autoscaler
// changes only this cluster's groups; EFS access points are created,
// tagged and deleted only with this cluster's tag (the CSI tag alone is
// shared by every cluster in the account).
func tagConditions(cluster string) map[string][]map[string]string {
	owned := map[string]string{"aws:ResourceTag/k8s.io/cluster-autoscaler/" + cluster: "owned"}
	return map[string][]map[string]string{
		"autoscaling:SetDesiredCapacity":                  {owned},
		"autoscaling:TerminateInstanceInAutoScalingGroup": {owned},
		// The drainer answers lifecycle actions of this cluster's groups only.
		"autoscaling:CompleteLifecycleAction": {{"autoscaling:ResourceTag/kforge.io/cluster": cluster}},
		"elasticfilesystem:CreateAccessPoint": {{
			"aws:RequestTag/efs.csi.aws.com/cluster": "true", "aws:RequestTag/kforge.io/cluster": cluster,
		}},
		"elasticfilesystem:TagResource": {
			{"aws:ResourceTag/kforge.io/cluster": cluster},
			{"elasticfilesystem:CreateAction": "CreateAccessPoint", "aws:RequestTag/kforge.io/cluster": cluster},
		},
		"elasticfilesystem:DeleteAccessPoint": {{
			"aws:ResourceTag/efs.csi.aws.com/cluster": "true", "aws:ResourceTag/kforge.io/cluster": cluster,
		}},
	}
}

func conditionProblems(st policyStatement, action, cluster string) []string {
	if action == "route53:ChangeResourceRecordSets" {
		c := st.Condition["ForAllValues:StringEquals"]
		names, _ := c["route53:ChangeResourceRecordSetsNormalizedRecordNames"].([]any)
		types, _ := c["route53:ChangeResourceRecordSetsRecordTypes"].([]any)
		actions, _ := c["route53:ChangeResourceRecordSetsActions"].([]any)
		if len(names) != 1 || fmt.Sprint(types) != "[A]" || fmt.Sprint(actions) != "[UPSERT]" {
			return []string{fmt.Sprintf("statement %q: %s is not limited by ForAllValues:StringEquals to UPSERT of one A record (got %v)", st.Sid, action, st.Condition)}
		}
		return nil
	}
	alternatives, ok := tagConditions(cluster)[action]
	if !ok {
		return nil
	}
	for _, want := range alternatives {
		all := true
		for k, v := range want {
			if st.Condition["StringEquals"][k] != v {
				all = false
			}
		}
		if all {
			return nil
		}
	}
	return []string{fmt.Sprintf("statement %q: %s is not conditioned on StringEquals %v (got %v)", st.Sid, action, alternatives, st.Condition)}
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
	for _, a := range []string{"autoscaling:SetDesiredCapacity", "autoscaling:CompleteLifecycleAction", "sqs:ReceiveMessage", "elasticfilesystem:CreateAccessPoint", "elasticfilesystem:DeleteAccessPoint", "route53:ChangeResourceRecordSets"} {
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
		{"lifecycle actions of any group", `{"Statement":[{"Effect":"Allow","Action":["autoscaling:CompleteLifecycleAction"],"Resource":"arn:aws:autoscaling:x"}]}`},
		{"autoscaler unconditioned", `{"Statement":[{"Effect":"Allow","Action":["autoscaling:SetDesiredCapacity"],"Resource":"arn:aws:autoscaling:x"}]}`},
		{"efs wrong tag", `{"Statement":[{"Effect":"Allow","Action":["elasticfilesystem:DeleteAccessPoint"],"Resource":"arn:x","Condition":{"StringEquals":{"aws:RequestTag/efs.csi.aws.com/cluster":"true"}}}]}`},
		{"efs delete on the shared CSI tag only", `{"Statement":[{"Effect":"Allow","Action":["elasticfilesystem:DeleteAccessPoint"],"Resource":"arn:x","Condition":{"StringEquals":{"aws:ResourceTag/efs.csi.aws.com/cluster":"true"}}}]}`},
		{"efs tag any access point", `{"Statement":[{"Effect":"Allow","Action":["elasticfilesystem:TagResource"],"Resource":"arn:x","Condition":{"StringEquals":{"aws:RequestTag/efs.csi.aws.com/cluster":"true"}}}]}`},
		{"efs second statement unconditioned", `{"Statement":[{"Effect":"Allow","Action":["elasticfilesystem:TagResource"],"Resource":"arn:x","Condition":{"StringEquals":{"aws:ResourceTag/kforge.io/cluster":"kforge-local"}}},{"Effect":"Allow","Action":["elasticfilesystem:TagResource"],"Resource":"arn:x"}]}`},
		{"route53 whole zone", `{"Statement":[{"Effect":"Allow","Action":["route53:ChangeResourceRecordSets"],"Resource":"arn:aws:route53:::hostedzone/Z"}]}`},
		{"route53 any action", `{"Statement":[{"Effect":"Allow","Action":["route53:ChangeResourceRecordSets"],"Resource":"arn:aws:route53:::hostedzone/Z","Condition":{"ForAllValues:StringEquals":{"route53:ChangeResourceRecordSetsNormalizedRecordNames":["api.x.test"],"route53:ChangeResourceRecordSetsRecordTypes":["A"],"route53:ChangeResourceRecordSetsActions":["UPSERT","DELETE"]}}}]}`},
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
