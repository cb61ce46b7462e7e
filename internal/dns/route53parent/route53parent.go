// Package route53parent delegates a subdomain (dev.example.com) from a parent
// Route 53 hosted zone (example.com): the delegation is the subdomain's NS
// record set in the parent zone. This is how a cluster domain that is not
// itself a registered domain gets delegated; the registrar only ever points
// at the parent.
//
// The parent must be a public hosted zone: Route 53 does not follow NS
// delegations to subdomains in a private one. Before any change the zone is
// checked for a DS record of the subdomain (DNSSEC above kforge's unsigned
// zone) and for records it serves at or below the subdomain, which stop
// being served once the zone cut exists.
package route53parent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	kdns "github.com/kforge/kforge/internal/dns"
)

// API is the part of the Route 53 client this package uses.
type API interface {
	GetHostedZone(ctx context.Context, in *route53.GetHostedZoneInput, optFns ...func(*route53.Options)) (*route53.GetHostedZoneOutput, error)
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	GetChange(ctx context.Context, in *route53.GetChangeInput, optFns ...func(*route53.Options)) (*route53.GetChangeOutput, error)
}

// DefaultTTL of the delegation NS record. Short on purpose: every re-created
// cluster zone gets a new set of Route 53 name servers, and a long TTL would
// keep resolvers on the old, deleted zone for days.
const DefaultTTL = 300

// Zone is a parent hosted zone. It implements dns.Registrar.
type Zone struct {
	api    API
	zoneID string
	// TTL of the NS record written; DefaultTTL when 0.
	TTL int64
	// WaitTimeout bounds the wait for Route 53 to report the change INSYNC; 0 skips the wait.
	WaitTimeout time.Duration

	once     sync.Once
	zoneName string
	private  bool
	zoneErr  error
}

var (
	_ kdns.Registrar    = (*Zone)(nil)
	_ kdns.DSReader     = (*Zone)(nil)
	_ kdns.RecordLister = (*Zone)(nil)
)

// New returns the parent zone with the given hosted zone id ("Z123" or "/hostedzone/Z123").
func New(api API, parentZoneID string) (*Zone, error) {
	id := strings.TrimPrefix(strings.TrimSpace(parentZoneID), "/hostedzone/")
	if id == "" {
		return nil, errors.New("dns.parentZoneID is empty: set it to the Route 53 hosted zone id of the parent domain (for example Z0123456789ABC)")
	}
	return &Zone{api: api, zoneID: id, TTL: DefaultTTL, WaitTimeout: 2 * time.Minute}, nil
}

// Describe implements dns.Registrar.
func (z *Zone) Describe() string { return "Route 53 parent zone " + z.zoneID }

// name looks the zone's domain name and visibility up once.
func (z *Zone) name(ctx context.Context) (string, error) {
	z.once.Do(func() {
		out, err := z.api.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(z.zoneID)})
		if err != nil {
			z.zoneErr = fmt.Errorf("reading Route 53 hosted zone %s (dns.parentZoneID): %w", z.zoneID, err)
			return
		}
		if out.HostedZone == nil {
			z.zoneErr = fmt.Errorf("reading Route 53 hosted zone %s (dns.parentZoneID): the answer holds no zone", z.zoneID)
			return
		}
		z.zoneName = kdns.NormalizeName(aws.ToString(out.HostedZone.Name))
		z.private = out.HostedZone.Config != nil && out.HostedZone.Config.PrivateZone
	})
	return z.zoneName, z.zoneErr
}

// checkChild makes sure the parent zone is public and domain strictly below it.
func (z *Zone) checkChild(ctx context.Context, domain string) (string, error) {
	parent, err := z.name(ctx)
	if err != nil {
		return "", err
	}
	if z.private {
		// Route 53 answers from a private zone only inside its VPCs and does
		// not follow NS records for its subdomains, so the delegation would
		// never take effect.
		return "", fmt.Errorf("hosted zone %s (%s, dns.parentZoneID) is a private hosted zone, and a private zone cannot delegate a subdomain with an NS record: "+
			"set dns.parentZoneID to the public hosted zone of %s, or use dns.registrar: none and create the NS records at the public DNS host of %s", z.zoneID, parent, parent, parent)
	}
	d := kdns.NormalizeName(domain)
	if err := kdns.ValidateDomain(d); err != nil {
		return "", err
	}
	if !strings.HasSuffix(d, "."+parent) {
		return "", fmt.Errorf("%s is not a subdomain of %s (hosted zone %s): set dns.parentZoneID to the zone of the domain's parent", d, parent, z.zoneID)
	}
	return d, nil
}

// NameServers returns the NS record set for domain in the parent zone, or an
// empty list when the zone does not delegate it yet.
func (z *Zone) NameServers(ctx context.Context, domain string) ([]string, error) {
	rrs, err := z.recordSet(ctx, domain, types.RRTypeNs)
	if err != nil {
		return nil, err
	}
	if rrs == nil {
		return []string{}, nil
	}
	ns := make([]string, 0, len(rrs.ResourceRecords))
	for _, rr := range rrs.ResourceRecords {
		ns = append(ns, kdns.NormalizeName(aws.ToString(rr.Value)))
	}
	return ns, nil
}

// recordSet reads the record set of domain and type t in the parent zone;
// nil when there is none.
func (z *Zone) recordSet(ctx context.Context, domain string, t types.RRType) (*types.ResourceRecordSet, error) {
	d, err := z.checkChild(ctx, domain)
	if err != nil {
		return nil, err
	}
	out, err := z.api.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId:    aws.String(z.zoneID),
		StartRecordName: aws.String(d + "."),
		StartRecordType: t,
		MaxItems:        aws.Int32(1),
	})
	if err != nil {
		return nil, fmt.Errorf("listing the %s record of %s in hosted zone %s: %w", t, d, z.zoneID, err)
	}
	// The listing starts at the name and type given, or after them when
	// there is no such record: check it is the one asked for.
	for _, rrs := range out.ResourceRecordSets {
		if rrs.Type == t && recordName(rrs.Name) == d {
			return &rrs, nil
		}
	}
	return nil, nil
}

// SetNameServers writes (UPSERT) the NS record set of domain in the parent
// zone and waits for Route 53 to report it in sync.
func (z *Zone) SetNameServers(ctx context.Context, domain string, nameServers []string) error {
	d, err := z.checkChild(ctx, domain)
	if err != nil {
		return err
	}
	ns := kdns.NormalizeSet(nameServers)
	if len(ns) == 0 {
		return fmt.Errorf("refusing to write an empty NS record for %s", d)
	}
	records := make([]types.ResourceRecord, 0, len(ns))
	for _, n := range ns {
		records = append(records, types.ResourceRecord{Value: aws.String(n + ".")})
	}
	ttl := z.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	out, err := z.api.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(z.zoneID),
		ChangeBatch: &types.ChangeBatch{
			Comment: aws.String("kforge: delegate " + d),
			Changes: []types.Change{{
				Action: types.ChangeActionUpsert,
				ResourceRecordSet: &types.ResourceRecordSet{
					Name:            aws.String(d + "."),
					Type:            types.RRTypeNs,
					TTL:             aws.Int64(ttl),
					ResourceRecords: records,
				},
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("writing the NS record of %s in hosted zone %s: %w", d, z.zoneID, err)
	}
	if z.WaitTimeout <= 0 || out.ChangeInfo == nil || out.ChangeInfo.Id == nil {
		return nil
	}
	w := route53.NewResourceRecordSetsChangedWaiter(z.api, func(o *route53.ResourceRecordSetsChangedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 2*time.Second, 10*time.Second
	})
	if err := w.Wait(ctx, &route53.GetChangeInput{Id: out.ChangeInfo.Id}, z.WaitTimeout); err != nil {
		return fmt.Errorf("waiting for the NS record of %s to be in sync: %w", d, err)
	}
	return nil
}

// DSRecords returns the DS record set of domain in the parent zone (empty
// when there is none). It implements dns.DSReader: a DS record there tells
// validating resolvers the subdomain's zone is signed, and kforge's is not.
func (z *Zone) DSRecords(ctx context.Context, domain string) ([]kdns.DSRecord, error) {
	rrs, err := z.recordSet(ctx, domain, types.RRTypeDs)
	if err != nil {
		return nil, err
	}
	recs := []kdns.DSRecord{}
	if rrs != nil {
		for _, rr := range rrs.ResourceRecords {
			recs = append(recs, parseDS(aws.ToString(rr.Value)))
		}
	}
	return recs, nil
}

// DSRecordsWhere says where the DS record is removed.
func (z *Zone) DSRecordsWhere(domain string) string {
	return "record " + kdns.NormalizeName(domain) + ", type DS"
}

// parseDS splits a DS record's value: key tag, algorithm, digest type, digest.
func parseDS(value string) kdns.DSRecord {
	f := strings.Fields(value)
	for len(f) < 4 {
		f = append(f, "")
	}
	return kdns.DSRecord{KeyTag: f[0], Algorithm: f[1], DigestType: f[2], Digest: strings.Join(f[3:], "")}
}

// ServedRecords returns the record sets the parent zone serves at or below
// domain while it does not delegate it (current is empty): once the NS
// record exists, the parent answers for those names with a referral only
// (RFC 2181 section 6.1), so they stop being served. The delegation's own NS
// set and DS, which belong to the parent side of the cut, are left out.
// With a delegation in place already, nothing more stops: it returns none
// without a request. It implements dns.RecordLister.
func (z *Zone) ServedRecords(ctx context.Context, domain string, current []string) ([]kdns.Record, error) {
	d, err := z.checkChild(ctx, domain)
	if err != nil {
		return nil, err
	}
	out := []kdns.Record{}
	if len(kdns.NormalizeSet(current)) > 0 {
		return out, nil
	}
	// Route 53 lists record sets sorted by name with the labels reversed
	// (dev.example.com as com.example.dev), as strings: the names at or
	// below domain come in one run that starts at domain, mixed only with
	// siblings sharing its text (dev-x.example.com).
	prefix := reversedName(d)
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(z.zoneID), StartRecordName: aws.String(d + ".")}
	for {
		page, err := z.api.ListResourceRecordSets(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing the records at and below %s in hosted zone %s: %w", d, z.zoneID, err)
		}
		for _, rrs := range page.ResourceRecordSets {
			name := recordName(rrs.Name)
			if !strings.HasPrefix(reversedName(name), prefix) {
				return kdns.SortRecords(out), nil // past the run
			}
			if name != d && !strings.HasSuffix(name, "."+d) {
				continue // a sibling such as dev-x.example.com
			}
			if name == d && (rrs.Type == types.RRTypeNs || rrs.Type == types.RRTypeDs) {
				continue
			}
			out = append(out, servedRecord(name, rrs))
		}
		if !page.IsTruncated || page.NextRecordName == nil {
			return kdns.SortRecords(out), nil
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = page.NextRecordName, page.NextRecordType, page.NextRecordIdentifier
	}
}

func servedRecord(name string, rrs types.ResourceRecordSet) kdns.Record {
	values := make([]string, 0, len(rrs.ResourceRecords))
	for _, rr := range rrs.ResourceRecords {
		values = append(values, aws.ToString(rr.Value))
	}
	content := strings.Join(values, ", ")
	if rrs.AliasTarget != nil {
		content = "ALIAS " + kdns.NormalizeName(aws.ToString(rrs.AliasTarget.DNSName))
	}
	if id := aws.ToString(rrs.SetIdentifier); id != "" {
		content += " (set " + strconv.Quote(id) + ")"
	}
	return kdns.Record{Name: name, Type: string(rrs.Type), Content: content, TTL: aws.ToInt64(rrs.TTL)}
}

// recordName normalizes a name as Route 53 returns it, where "*" is \052.
func recordName(name *string) string {
	return kdns.NormalizeName(strings.ReplaceAll(aws.ToString(name), `\052`, "*"))
}

// reversedName is name with its labels in reverse order, as Route 53 sorts.
func reversedName(name string) string {
	labels := strings.Split(name, ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}
