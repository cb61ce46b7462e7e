// Package dnsfixture holds the name servers and DS record the delegation
// tests of several packages share, so that they agree on what a domain
// fresh at Porkbun and a cluster's Route 53 zone look like.
package dnsfixture

import "github.com/kforge/kforge/internal/dns/porkbun/porkbuntest"

var (
	// PorkbunNS are Porkbun's default name servers, those of a domain not
	// delegated yet.
	PorkbunNS = []string{"curitiba.ns.porkbun.com", "fortaleza.ns.porkbun.com", "maceio.ns.porkbun.com", "salvador.ns.porkbun.com"}
	// ZoneNS are the name servers of a cluster's Route 53 zone, fully
	// qualified and unsorted, so that comparisons must normalize them.
	ZoneNS = []string{"ns-1536.awsdns-00.co.uk.", "ns-0.awsdns-00.com.", "ns-1024.awsdns-00.org.", "ns-512.awsdns-00.net."}
	// DSRecord is a DS record as Cloudflare or deSEC would hand out for an
	// algorithm 13 key.
	DSRecord = porkbuntest.DSRecord{KeyTag: "2371", Alg: "13", DigestType: "2", Digest: "E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766"}
)
