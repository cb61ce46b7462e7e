// Package reliability holds end-to-end tests of kforge's promises to the
// account it is given: idempotent applies, state locking, recovery from a
// killed Terraform, polite interrupts, clean teardown, refusal of bad input
// before any cloud call, and no secret in state, plans, outputs or logs.
//
// The tests build the real kforge binary and drive it against moto_server
// (the local AWS emulator) with real Terraform and the real AWS provider;
// they check the results through the AWS API (test/e2e/inventory). They are
// skipped with -short. docs/RELIABILITY.md lists each promise, its test and
// the figures the tests print.
package reliability
