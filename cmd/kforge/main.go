// Command kforge brings up and runs a self-managed Kubernetes cluster on AWS,
// or on a local AWS emulator.
package main

import (
	"context"
	"os"

	"github.com/kforge/kforge/internal/cli"
)

func main() {
	app := &cli.App{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	os.Exit(cli.Execute(context.Background(), app, os.Args[1:]))
}
