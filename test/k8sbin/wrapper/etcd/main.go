//go:build ignore

// Command etcd is etcd's own server entry point, built inside the wrapper
// module so that it uses the etcd release Kubernetes itself resolves.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
