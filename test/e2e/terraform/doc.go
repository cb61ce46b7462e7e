// Package terraform holds the end-to-end test of the Terraform modules: it
// applies terraform/cluster with the local example inputs to the AWS
// emulator (moto) with the real hashicorp/aws provider, checks the result
// through the AWS API, re-plans for no change, destroys, and inventories
// what is left.
package terraform
