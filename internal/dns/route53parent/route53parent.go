// Package route53parent delegates a subdomain (dev.example.com) from a parent
// Route 53 hosted zone (example.com): the delegation is the subdomain's NS
// record set in the parent zone. This is how a cluster domain that is not
// itself a registered domain gets delegated; the registrar only ever points
// at the parent.
package route53parent

import (
	"context"
	"errors"
	"fmt"
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
	zoneErr  error
}

var _ kdns.Registrar = (*Zone)(nil)

// New returns the parent zone with the given hosted zone id ("Z123" or "/hostedzone/Z123").
func New(api API, parentZoneID string) (*Zone, error) {
	id := strings.TrimPrefix(strings.TrimSpace(parentZoneID), "/hostedzone/")
	if id == "" {
		return nil, errors.New("dns.parentZoneId is empty: set it to the Route 53 hosted zone id of the parent domain (for example Z0123456789ABC)")
	}
	return &Zone{api: api, zoneID: id, TTL: DefaultTTL, WaitTimeout: 2 * time.Minute}, nil
}

// Describe implements dns.Registrar.
func (z *Zone) Describe() string { return "Route 53 parent zone " + z.zoneID }

// name looks the zone's domain name up once.
func (z *Zone) name(ctx context.Context) (string, error) {
	z.once.Do(func() {
		out, err := z.api.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(z.zoneID)})
		if err != nil {
			z.zoneErr = fmt.Errorf("reading Route 53 hosted zone %s (dns.parentZoneId): %w", z.zoneID, err)
			return
		}
		z.zoneName = kdns.NormalizeName(aws.ToString(out.HostedZone.Name))
	})
	return z.zoneName, z.zoneErr
}

// checkChild makes sure domain is strictly below the parent zone.
func (z *Zone) checkChild(ctx context.Context, domain string) (string, error) {
	parent, err := z.name(ctx)
	if err != nil {
		return "", err
	}
	d := kdns.NormalizeName(domain)
	if err := kdns.ValidateDomain(d); err != nil {
		return "", err
	}
	if !strings.HasSuffix(d, "."+parent) {
		return "", fmt.Errorf("%s is not a subdomain of %s (hosted zone %s): set dns.parentZoneId to the zone of the domain's parent", d, parent, z.zoneID)
	}
	return d, nil
}

// NameServers returns the NS record set for domain in the parent zone, or an
// empty list when the zone does not delegate it yet.
func (z *Zone) NameServers(ctx context.Context, domain string) ([]string, error) {
	d, err := z.checkChild(ctx, domain)
	if err != nil {
		return nil, err
	}
	out, err := z.api.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId:    aws.String(z.zoneID),
		StartRecordName: aws.String(d + "."),
		StartRecordType: types.RRTypeNs,
		MaxItems:        aws.Int32(10),
	})
	if err != nil {
		return nil, fmt.Errorf("listing the NS record of %s in hosted zone %s: %w", d, z.zoneID, err)
	}
	for _, rrs := range out.ResourceRecordSets {
		if rrs.Type != types.RRTypeNs || kdns.NormalizeName(aws.ToString(rrs.Name)) != d {
			continue
		}
		ns := make([]string, 0, len(rrs.ResourceRecords))
		for _, rr := range rrs.ResourceRecords {
			ns = append(ns, kdns.NormalizeName(aws.ToString(rr.Value)))
		}
		return ns, nil
	}
	return []string{}, nil
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
