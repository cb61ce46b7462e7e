// Package lab runs kforge's nodes for real on one Linux machine: every
// instance the emulated Auto Scaling Groups launch becomes a sandbox with its
// own network namespace (its private IP on a bridge standing for the VPC), its
// own hostname, its own root file system (an overlay on a Debian base built
// once with debootstrap) and systemd as its init, booted by systemd-nspawn.
//
// Network rule: every lab address lives inside network namespaces the lab
// creates. The VPC bridge lives in a namespace of its own that has no link to
// the host's namespace and no default route, so nothing in the lab can reach
// beyond the machine; the host reaches lab services only through loopback
// forwards (Forward).
package lab
