// Package kforge holds what the kforge binary embeds from the repository
// root: the Terraform modules it stages into each environment's work
// directory, so the binary works from any directory.
package kforge

import "embed"

// Terraform is the terraform/ tree: the reusable modules and the root
// module kforge applies.
//
//go:embed all:terraform
var Terraform embed.FS
