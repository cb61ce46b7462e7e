// Package dns holds what every delegation target shares: the Registrar
// interface (read and set the name servers that delegate a domain), name-server
// set comparison, and the registered-domain rule that decides whether a
// cluster domain can be delegated at the registrar or only in a parent zone.
//
// Implementations live in sub-packages: porkbun (the registrar's JSON API) and
// route53parent (an NS record in a parent Route 53 hosted zone).
package dns

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Registrar reads and replaces the name servers that delegate a domain to its
// DNS hosting. For a registrar this is the domain's NS set at the registry;
// for a parent zone it is the NS record set of a subdomain in that zone.
type Registrar interface {
	// Describe names the place the delegation lives, for messages, for
	// example "Porkbun (example.com)". It never contains credentials.
	Describe() string
	// NameServers returns the name servers currently delegating domain.
	// An empty list means no delegation exists yet.
	NameServers(ctx context.Context, domain string) ([]string, error)
	// SetNameServers replaces the delegation of domain with nameServers.
	SetNameServers(ctx context.Context, domain string, nameServers []string) error
}

// DSRecord is a Delegation Signer record (RFC 4034 section 5) the parent
// publishes for a domain: it tells validating resolvers that the domain's
// zone is signed, and with which key. The fields are kept as the registrar
// reports them.
type DSRecord struct {
	KeyTag     string `json:"key_tag"`
	Algorithm  string `json:"algorithm"`
	DigestType string `json:"digest_type"`
	Digest     string `json:"digest"`
}

// DSReader is implemented by a Registrar that can read the DS records the
// parent publishes for a domain (for a registrar: the ones it sent to the
// registry). Delegation refuses to proceed while there are any; see
// PlanDelegation.
type DSReader interface {
	// DSRecords returns the DS records of domain; an empty list means
	// DNSSEC is off at the parent.
	DSRecords(ctx context.Context, domain string) ([]DSRecord, error)
}

// Record is a DNS record the delegation target serves today for the domain
// or a name below it. Content is the record's data as the target reports it
// (several values of one record set joined by ", "; for an alias record,
// "ALIAS " and the target name).
type Record struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Content string `json:"content"`
	TTL     int64  `json:"ttl,omitempty"`
}

// SortRecords orders records by name, type and content, as plans list
// them, and returns r.
func SortRecords(r []Record) []Record {
	slices.SortFunc(r, func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Content, b.Content))
	})
	return r
}

// RecordLister is implemented by a Registrar that can itself be the DNS host
// of the domain (a registrar's own DNS service, a parent zone holding
// records for the subdomain). Moving the delegation away from it makes
// every record it serves for the domain stop resolving, so delegation
// refuses to do that silently; see PlanDelegation and DroppedRecordsError.
type RecordLister interface {
	// ServedRecords returns the records the target serves for domain and
	// names below it while the delegation is current (the name servers
	// NameServers returned), leaving out the delegation itself (NS),
	// DS records and defaults that carry nothing of the owner's, such as a
	// registrar's parking page. Records the target holds but does not
	// serve under current (for a registrar whose DNS the domain does not
	// use) are left out too. An empty list means nothing stops resolving.
	ServedRecords(ctx context.Context, domain string, current []string) ([]Record, error)
}

// NormalizeName lowercases a host name and strips surrounding spaces and the
// trailing root dot, so "NS-1.AWSDNS-01.ORG." and "ns-1.awsdns-01.org" compare equal.
func NormalizeName(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// NormalizeSet returns the normalized, sorted, de-duplicated form of a list of
// name servers; empty entries are dropped.
func NormalizeSet(nameServers []string) []string {
	out := make([]string, 0, len(nameServers))
	for _, ns := range nameServers {
		if n := NormalizeName(ns); n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SameNameServers reports whether two name-server lists name the same servers,
// ignoring case, trailing dots, order and duplicates.
func SameNameServers(a, b []string) bool {
	return slices.Equal(NormalizeSet(a), NormalizeSet(b))
}

// Diff is the difference between the current and the wanted name servers.
type Diff struct {
	Add    []string `json:"add"`    // wanted, not present
	Remove []string `json:"remove"` // present, not wanted
	Keep   []string `json:"keep"`   // present and wanted
}

// Empty reports whether nothing needs to change.
func (d Diff) Empty() bool { return len(d.Add) == 0 && len(d.Remove) == 0 }

// Compare computes what must change to turn current into wanted. All three
// lists are normalized and sorted.
func Compare(current, wanted []string) Diff {
	cur, want := NormalizeSet(current), NormalizeSet(wanted)
	d := Diff{Add: []string{}, Remove: []string{}, Keep: []string{}}
	for _, ns := range want {
		if slices.Contains(cur, ns) {
			d.Keep = append(d.Keep, ns)
		} else {
			d.Add = append(d.Add, ns)
		}
	}
	for _, ns := range cur {
		if !slices.Contains(want, ns) {
			d.Remove = append(d.Remove, ns)
		}
	}
	return d
}

// ValidateDomain checks that domain is a syntactically valid DNS name with at
// least two labels (RFC 1035 lengths, letters, digits and hyphens).
func ValidateDomain(domain string) error {
	d := NormalizeName(domain)
	if d == "" {
		return fmt.Errorf("domain is empty: set dns.domain, for example dev.example.com")
	}
	if len(d) > 253 {
		return fmt.Errorf("domain %q is longer than 253 characters", domain)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("domain %q has a single label: use a name like example.com", domain)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("domain %q has an empty label or one longer than 63 characters", domain)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("domain %q: label %q starts or ends with a hyphen", domain, l)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("domain %q: label %q may hold only letters, digits and hyphens", domain, l)
			}
		}
	}
	return nil
}

// RegisteredDomain returns the domain a registrar sells for name: the public
// suffix plus one label ("dev.example.com" -> "example.com",
// "a.b.example.co.uk" -> "example.co.uk").
func RegisteredDomain(name string) (string, error) {
	d := NormalizeName(name)
	if err := ValidateDomain(d); err != nil {
		return "", err
	}
	reg, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return "", fmt.Errorf("finding the registered domain of %q: %w", name, err)
	}
	return reg, nil
}

// IsRegisteredDomain reports whether name is itself the registered domain, so
// that changing its name servers at the registrar delegates it. A subdomain
// (dev.example.com) is delegated by NS records in its parent zone instead.
func IsRegisteredDomain(name string) (bool, error) {
	reg, err := RegisteredDomain(name)
	if err != nil {
		return false, err
	}
	return reg == NormalizeName(name), nil
}

// ParentDomain returns name without its first label ("dev.example.com" -> "example.com").
func ParentDomain(name string) string {
	d := NormalizeName(name)
	if _, rest, ok := strings.Cut(d, "."); ok {
		return rest
	}
	return ""
}
