// Package terraform holds the end-to-end tests of the Terraform modules.
//
// TestClusterLifecycle applies terraform/cluster with the local example
// inputs to the AWS emulator (moto) with the real hashicorp/aws provider,
// checks the result through the AWS API, re-plans for no change, destroys,
// and inventories what is left. TestIAMPolicyGolden applies the iam module
// alone (seconds) and compares its policies with testdata/iam, the same
// golden files the lifecycle test compares the applied cluster with.
//
//	KFORGE_PLUGIN_DIR=/path/to/provider/mirror go test ./test/e2e/terraform
//	go test ./test/e2e/terraform -run TestIAMPolicyGolden -update   # after an intended policy change
//
// Both skip when terraform or moto_server is missing, or when no provider
// mirror is given and the Terraform registry is out of reach;
// TestClusterLifecycle also skips in -short mode. KFORGE_E2E_TERRAFORM_DIR
// runs the lifecycle against another copy of the terraform/ tree (for
// example one with a property broken on purpose).
package terraform
