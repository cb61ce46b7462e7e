package check

import (
	"context"
	"errors"
	"fmt"
	"strings"

	mdns "github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

	kdns "github.com/kforge/kforge/internal/dns"
)

// LetsEncryptCAA is the issuer domain Let's Encrypt looks for in CAA issue
// properties.
const LetsEncryptCAA = "letsencrypt.org"

// kforge's ClusterIssuers solve HTTP-01 only; a CAA validationmethods
// parameter has to allow it.
const acmeMethod = "http-01"

// maxAliasHops bounds the CNAME chain read from one answer; a resolver that
// returns a longer one (or a loop) gets the chain cut there.
const maxAliasHops = 16

// CAA returns the CAA records name has as the resolver answers a CAA query:
// when name is an alias, those of the end of the CNAME chain the resolver
// followed (RFC 8659 §3 has CAA(X) chase aliases; DNAMEs arrive as
// synthesized CNAMEs). owner is where the records sit: name, or the chain's
// end. NXDOMAIN and an empty answer give no records.
func (r *Resolver) CAA(ctx context.Context, name string) (records []*mdns.CAA, owner string, err error) {
	in, err := r.query(ctx, name, mdns.TypeCAA)
	if err != nil {
		return nil, "", err
	}
	owner = kdns.NormalizeName(name)
	for range maxAliasHops {
		next := ""
		for _, rr := range in.Answer {
			if c, ok := rr.(*mdns.CNAME); ok && kdns.NormalizeName(c.Hdr.Name) == owner {
				next = kdns.NormalizeName(c.Target)
				break
			}
		}
		if next == "" {
			break
		}
		owner = next
	}
	for _, rr := range in.Answer {
		if c, ok := rr.(*mdns.CAA); ok && kdns.NormalizeName(c.Hdr.Name) == owner {
			records = append(records, c)
		}
	}
	return records, owner, nil
}

// caaSet is the first non-empty CAA record set found climbing from a name.
type caaSet struct {
	at      string // the name whose query returned it
	owner   string // where the records sit: at, or the end of at's CNAME chain
	records []*mdns.CAA
}

// relevantCAA climbs from domain towards the root and returns the first
// non-empty CAA set (RFC 8659 §3), stopping at the registered domain: public
// suffixes are not asked. An alias's target is read but never climbed from.
// Any failed query ends the climb with an error: a set it hides could forbid
// issuance, and Let's Encrypt refuses on such a failure too.
func (r *Resolver) relevantCAA(ctx context.Context, domain string) (*caaSet, error) {
	stop, err := publicsuffix.EffectiveTLDPlusOne(domain)
	if err != nil {
		return nil, fmt.Errorf("finding the registered domain of %s, where the CAA search stops: %w", domain, err)
	}
	for name := domain; name != ""; name = kdns.ParentDomain(name) {
		recs, owner, err := r.CAA(ctx, name)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			return &caaSet{at: name, owner: owner, records: recs}, nil
		}
		if name == stop {
			break
		}
	}
	return nil, nil
}

// caaText is a record as it is written in a zone, without owner and TTL:
// 0 issue "letsencrypt.org".
func caaText(c *mdns.CAA) string {
	return strings.TrimSpace(strings.TrimPrefix(c.String(), c.Hdr.String()))
}

// caaVerdict says whether set lets Let's Encrypt issue, through HTTP-01,
// for domain and the names under it that the set governs. reason says why
// not, with the fix; when allowed it is empty or a caveat.
func caaVerdict(set *caaSet, domain string) (allowed bool, reason string) {
	if set == nil {
		return true, ""
	}
	where := set.at
	if set.owner != set.at {
		where = fmt.Sprintf("%s, a CNAME to %s,", set.at, set.owner)
	}
	names := domain + " and the names under it"

	var issue, critical []*mdns.CAA
	for _, c := range set.records {
		switch strings.ToLower(c.Tag) {
		case "issue":
			issue = append(issue, c)
		case "issuewild", "iodef":
			// issuewild governs wildcard names only (RFC 8659 §4.3), which
			// HTTP-01 cannot validate; iodef only asks for reports.
		default:
			// Flag 128 is the critical bit. Let's Encrypt also takes flag 1
			// for it, a common misreading it chose to honour.
			if c.Flag&(128|1) != 0 {
				critical = append(critical, c)
			}
		}
	}
	if len(critical) > 0 {
		return false, fmt.Sprintf("CAA at %s has a critical property Let's Encrypt does not know (%s), which forbids issuance for %s. Fix: remove that record from %s, or set its flag to 0 (see CAA in docs/DNS.md)",
			where, joinCAA(critical), names, set.owner)
	}
	if len(issue) == 0 {
		// Only issuewild, iodef or unknown non-critical tags: no restriction
		// on non-wildcard names (RFC 8659 §3).
		return true, ""
	}
	fix := fmt.Sprintf(`add %s CAA 0 issue "%s" to that set, or remove the set`, set.owner, LetsEncryptCAA)
	var caveat, near, methodFix string
	for _, c := range issue {
		v, err := parseIssueValue(c.Value)
		switch {
		case err != nil:
			if strings.Contains(strings.ToLower(c.Value), LetsEncryptCAA) {
				near = fmt.Sprintf("%s is not a valid issue value (%v), so it names no CA", caaText(c), err)
			}
		case v.issuer != LetsEncryptCAA:
			if strings.EqualFold(v.issuer, LetsEncryptCAA) {
				near = fmt.Sprintf("%s does not count: Let's Encrypt matches its name exactly, in lower case", caaText(c))
			}
		case !v.allowsMethod(acmeMethod):
			near = fmt.Sprintf("%s lets Let's Encrypt validate only by %s, and kforge's issuers use %s", caaText(c), v.params["validationmethods"], acmeMethod)
			methodFix = fmt.Sprintf("add %s to that record's validationmethods, or ", acmeMethod)
		case v.params["accounturi"] != "":
			// The account is the cluster's ClusterIssuer's, which DNS does
			// not show: allowed, with the condition said.
			caveat = fmt.Sprintf("CAA at %s lets Let's Encrypt issue only to ACME account %s: it must be the account of the cluster's ClusterIssuer", where, v.params["accounturi"])
		default:
			return true, ""
		}
	}
	if caveat != "" {
		return true, caveat
	}
	msg := fmt.Sprintf("CAA at %s forbids Let's Encrypt (%s) for %s, so its certificates stay pending (ACME error urn:ietf:params:acme:error:caa); the set: %s",
		where, LetsEncryptCAA, names, joinCAA(set.records))
	if near != "" {
		msg += "; " + near
	}
	return false, msg + ". Fix: " + methodFix + fix + " (see CAA in docs/DNS.md)"
}

func joinCAA(recs []*mdns.CAA) string {
	out := make([]string, len(recs))
	for i, c := range recs {
		out[i] = caaText(c)
	}
	return strings.Join(out, ", ")
}

// issueValue is a parsed issue or issuewild value (RFC 8659 §4.2).
type issueValue struct {
	issuer string            // empty: no CA
	params map[string]string // tag => value
}

// allowsMethod applies the validationmethods parameter (RFC 8657 §4): when
// present it must name method; a malformed list allows none.
func (v issueValue) allowsMethod(method string) bool {
	list, ok := v.params["validationmethods"]
	if !ok {
		return true
	}
	found := false
	for _, m := range strings.Split(list, ",") {
		if m == "" || strings.Trim(m, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return false
		}
		found = found || m == method
	}
	return found
}

// parseIssueValue follows the issuevalue grammar of RFC 8659 §4.2:
// [issuer-domain-name] [";" [tag=value *(";" tag=value)]], with spaces and
// tabs around the parts. A value that does not match counts as naming no CA.
func parseIssueValue(s string) (issueValue, error) {
	wsp := func(r rune) bool { return r == ' ' || r == '\t' }
	domain, rest, hasParams := strings.Cut(s, ";")
	v := issueValue{issuer: strings.TrimFunc(domain, wsp), params: map[string]string{}}
	if v.issuer != "" && !isLDH(v.issuer, true) {
		return issueValue{}, fmt.Errorf("issuer %q is not a domain name", v.issuer)
	}
	if !hasParams || strings.TrimFunc(rest, wsp) == "" {
		return v, nil
	}
	for _, p := range strings.Split(rest, ";") {
		tag, value, ok := strings.Cut(strings.TrimFunc(p, wsp), "=")
		tag, value = strings.TrimFunc(tag, wsp), strings.TrimFunc(value, wsp)
		if !ok || !isLDH(tag, false) {
			return issueValue{}, fmt.Errorf("parameter %q is not tag=value", strings.TrimFunc(p, wsp))
		}
		for _, c := range value {
			if c < 0x21 || c > 0x7e { // ';' cannot occur: it split the list
				return issueValue{}, fmt.Errorf("parameter %s has a space or a character outside printable ASCII", tag)
			}
		}
		v.params[tag] = value
	}
	return v, nil
}

// isLDH reports whether s is letters, digits and inner hyphens, in
// dot-separated labels when dots is true.
func isLDH(s string, dots bool) bool {
	labels := []string{s}
	if dots {
		labels = strings.Split(s, ".")
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// caaCheck fills the report's CAA fields from one climb.
func (rep *Report) caaCheck(ctx context.Context, r *Resolver, hinted bool) {
	rep.CAAChecked = true
	rep.CAARecords = []string{}
	set, err := r.relevantCAA(ctx, rep.Domain)
	if err != nil {
		rep.CAAError = "cannot tell whether CAA lets Let's Encrypt issue: " + err.Error()
		var re *rcodeError
		if !hinted && errors.As(err, &re) && kdns.NormalizeName(re.name) == rep.Domain {
			rep.CAAError += servfailHint(err, rep.Domain)
		}
		return
	}
	if set != nil {
		rep.CAADomain = set.at
		if set.owner != set.at {
			rep.CAAAliasTarget = set.owner
		}
		for _, c := range set.records {
			rep.CAARecords = append(rep.CAARecords, caaText(c))
		}
	}
	rep.CAAAllowed, rep.CAAReason = caaVerdict(set, rep.Domain)
}
