package sweep

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// List returns every resource of the kinds kforge's modules create that
// belongs to t's cluster, sorted by deletion order.
func List(ctx context.Context, cfg aws.Config, t Target) ([]Resource, error) {
	if strings.TrimSpace(t.Cluster) == "" {
		return nil, fmt.Errorf("sweep: empty cluster name")
	}
	l := &lister{t: t, cfg: cfg, ec2: ec2.NewFromConfig(cfg), clusterVPCs: map[string]bool{}, lbs: map[string]string{}, fss: map[string]bool{}}
	for _, name := range listOrder {
		k, _ := lookup(name)
		if err := k.List(l, ctx); err != nil {
			return nil, fmt.Errorf("listing %s of cluster %s: %w", name, t.Cluster, err)
		}
	}
	sortByOrder(l.out)
	return l.out, nil
}

func sortByOrder(rs []Resource) {
	rank := map[string]int{}
	for i, k := range Order {
		rank[k] = i
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if rank[rs[i].Kind] != rank[rs[j].Kind] {
			return rank[rs[i].Kind] < rank[rs[j].Kind]
		}
		return rs[i].ID < rs[j].ID
	})
}

// lister holds what one List call has found so far: later kinds match
// through earlier ones.
type lister struct {
	t           Target
	cfg         aws.Config
	ec2         *ec2.Client
	clusterVPCs map[string]bool   // VPC ids of the cluster
	lbs         map[string]string // ENI description prefix "ELB net/<name>/<id>" -> load balancer ARN
	fss         map[string]bool   // file system ids of the cluster
	out         []Resource
}

func (l *lister) add(r Resource) { l.out = append(l.out, r) }

// match says why a resource with these tags and name belongs to the cluster,
// or "" when it does not. The cluster tag decides where there is one: a
// resource tagged for another cluster is not this one's, whatever its name
// (cluster "prod" must not claim "prod-eu-worker"). Only a resource with no
// tags at all (kforge's come with the create, or for a bucket in one second
// request that may never have come) is matched by its name, which must be
// the cluster name or start with "<cluster>-": "kforge-local" must not
// match "kforge-local2-...". Tags of other tools without kforge's mean the
// resource is theirs.
func (l *lister) match(tags map[string]string, name string) string {
	if owner, tagged := tags[ClusterTag]; tagged {
		if owner == l.t.Cluster {
			return "tag " + ClusterTag
		}
		return ""
	}
	if hasOwnTags(tags) {
		return ""
	}
	if name != "" && l.namedForCluster(name) {
		return "name " + name
	}
	return ""
}

// namedForCluster reports whether a name is one kforge gives this cluster's
// resources: <cluster> or <cluster>-.... IAM lists answer without tags, so
// only IAM entities of such names cost a call for their tags: an account's
// other ones (hundreds, some the operator may not read) cost none.
func (l *lister) namedForCluster(name string) bool {
	return name == l.t.Cluster || strings.HasPrefix(name, l.t.Cluster+"-")
}

// hasOwnTags reports tags beyond a name (the Name tag, which match reads as
// the name) and those AWS itself sets (aws:..., such as the Auto Scaling
// group name on an instance it launched).
func hasOwnTags(tags map[string]string) bool {
	for k := range tags {
		if k != "Name" && !strings.HasPrefix(k, "aws:") {
			return true
		}
	}
	return false
}

// matchInVPC is match, or else membership of one of the cluster's VPCs.
func (l *lister) matchInVPC(tags map[string]string, name, vpc string) string {
	if why := l.match(tags, name); why != "" {
		return why
	}
	if l.clusterVPCs[vpc] {
		return "in cluster VPC " + vpc
	}
	return ""
}

// tagMap turns any AWS SDK tag list into a map, given how to read one tag.
func tagMap[T any](tags []T, kv func(T) (*string, *string)) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		k, v := kv(t)
		m[aws.ToString(k)] = aws.ToString(v)
	}
	return m
}

// tagsInBatches reads the tags of ids, size at a time, keyed by id. AWS's
// lists are eventually consistent and anyone may delete a resource between
// the listing and the read: a batch that fails because one of its
// resources is gone is read again one at a time, and the gone ones are left
// out, as a single read that finds its resource gone is.
func tagsInBatches(ids []string, size int, read func(batch []string) (map[string]map[string]string, error)) (map[string]map[string]string, error) {
	tags := make(map[string]map[string]string, len(ids))
	for batch := range slices.Chunk(ids, size) {
		got, err := read(batch)
		if isNotFound(err) && len(batch) > 1 {
			got, err = tagsInBatches(batch, 1, read)
		}
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		maps.Copy(tags, got)
	}
	return tags, nil
}
