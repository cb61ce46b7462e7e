package terraform

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/kforge/kforge/internal/testutil/golden"
)

// policyNames are the cluster's customer-managed policies, by the suffix
// of their name; golden files live in testdata/iam/<key>.json.
var policyNames = map[string]string{
	"controller":         "controller",
	"worker":             "worker",
	"cluster_autoscaler": "cluster-autoscaler",
	"efs_csi":            "efs-csi",
	"node_drainer":       "node-drainer",
}

func checkIAM(t *testing.T, ctx context.Context, c *clients, v clusterVars, out outputs) {
	ident, err := c.sts.GetCallerIdentity(ctx, nil)
	if err != nil {
		t.Fatalf("caller identity: %v", err)
	}
	account := aws.ToString(ident.Account)
	attached := map[string][]string{}
	for _, role := range []string{v.ClusterName + "-controller", v.ClusterName + "-worker"} {
		resp, err := c.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
		if err != nil {
			t.Fatalf("policies of %s: %v", role, err)
		}
		for _, p := range resp.AttachedPolicies {
			attached[role] = append(attached[role], aws.ToString(p.PolicyName))
		}
		slices.Sort(attached[role])
		profile, err := c.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(role)})
		if err != nil || len(profile.InstanceProfile.Roles) != 1 || aws.ToString(profile.InstanceProfile.Roles[0].RoleName) != role {
			t.Errorf("instance profile %s does not hold role %s (%v)", role, role, err)
		}
	}
	wantController := []string{v.ClusterName + "-cluster-autoscaler", v.ClusterName + "-controller", v.ClusterName + "-efs-csi", v.ClusterName + "-node-drainer"}
	if got := attached[v.ClusterName+"-controller"]; !slices.Equal(got, wantController) {
		t.Errorf("controller role policies %v, want %v", got, wantController)
	}
	if got := attached[v.ClusterName+"-worker"]; !slices.Equal(got, []string{v.ClusterName + "-worker"}) {
		t.Errorf("worker role policies %v, want only %s-worker", got, v.ClusterName)
	}

	_, keyID, _ := strings.Cut(out.KMSKeyARN, ":key/")
	replacer := strings.NewReplacer(
		keyID, "${KMS_KEY_ID}",
		out.APIZoneID, "${ZONE_ID}",
		strings.ToLower(out.APIDNSName), "${API_RECORD}",
		out.EFSID, "${EFS_ID}",
		account, "${ACCOUNT_ID}",
	)
	for key, suffix := range policyNames {
		arn := fmt.Sprintf("arn:aws:iam::%s:policy/%s-%s", account, v.ClusterName, suffix)
		pol, err := c.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		if err != nil {
			t.Errorf("policy %s: %v", arn, err)
			continue
		}
		ver, err := c.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: pol.Policy.DefaultVersionId})
		if err != nil {
			t.Errorf("policy %s document: %v", arn, err)
			continue
		}
		doc, err := decodePolicyDocument(aws.ToString(ver.PolicyVersion.Document))
		if err != nil {
			t.Errorf("policy %s: %v", arn, err)
			continue
		}
		for _, problem := range policyProblems(doc, v.ClusterName) {
			t.Errorf("policy %s: %s", arn, problem)
		}
		canonical, err := canonicalPolicy(aws.ToString(ver.PolicyVersion.Document))
		if err != nil {
			t.Fatalf("policy %s: %v", arn, err)
		}
		golden.Assert(t, filepath.Join("testdata", "iam", key+".json"), []byte(replacer.Replace(string(canonical))+"\n"))
	}
}

// unescapePolicy accepts the URL-encoded form IAM returns and plain JSON.
func unescapePolicy(s string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		return s, nil
	}
	unescaped, err := url.PathUnescape(s)
	if err != nil {
		return "", fmt.Errorf("URL-decoding the document: %w", err)
	}
	return unescaped, nil
}

// decodePolicyDocument decodes a policy for the rule checks.
func decodePolicyDocument(s string) (policyDocument, error) {
	s, err := unescapePolicy(s)
	if err != nil {
		return policyDocument{}, err
	}
	var doc policyDocument
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		return policyDocument{}, fmt.Errorf("decoding the document: %w", err)
	}
	return doc, nil
}

// canonicalPolicy is the document as indented JSON with sorted keys, every
// field kept, for comparison with a golden file.
func canonicalPolicy(s string) ([]byte, error) {
	s, err := unescapePolicy(s)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		return nil, fmt.Errorf("decoding the document: %w", err)
	}
	return json.MarshalIndent(doc, "", "  ")
}
