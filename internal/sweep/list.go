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
	if len(l.taken) > 0 {
		return nil, &NamesTaken{Cluster: t.Cluster, Taken: l.taken}
	}
	if len(l.otherEnvs) > 0 {
		return nil, &EnvironmentConflict{Cluster: t.Cluster, Environment: t.Environment, Others: l.otherEnvs}
	}
	sortByOrder(l.out)
	return l.out, nil
}

// NamesTaken: launch templates or Auto Scaling groups of other owners
// hold names this cluster's would take, so its apply would fail half way
// with AlreadyExists (names are unique per account and region). Pool
// names may hold hyphens: cluster "dev" with pool "eu-general" and
// cluster "dev-eu" with pool "general" both name theirs "dev-eu-general".
type NamesTaken struct {
	Cluster string
	// Taken maps each name to what holds it.
	Taken map[string]string
}

func (e *NamesTaken) Error() string {
	var held []string
	for _, n := range slices.Sorted(maps.Keys(e.Taken)) {
		held = append(held, n+" ("+e.Taken[n]+")")
	}
	return fmt.Sprintf("cluster %q names its launch templates and Auto Scaling groups <cluster>-<pool>, and these names are taken in this account and region: %s. Rename the pool (workerPools) or the cluster (name)",
		e.Cluster, strings.Join(held, ", "))
}

// EnvironmentConflict: the cluster name is in use by another environment
// in this account. kforge's names are the cluster's (roles, instance
// profiles, launch templates, groups, buckets), so two environments of one
// name would take, adopt or delete each other's resources.
type EnvironmentConflict struct {
	Cluster, Environment string
	// Others maps each other environment to names of its resources (some
	// kinds have none to show).
	Others map[string][]string
}

func (e *EnvironmentConflict) Error() string {
	envs := slices.Sorted(maps.Keys(e.Others))
	var named []string
	for _, env := range envs {
		for _, n := range e.Others[env] {
			if n != "" && len(named) < 5 && !slices.Contains(named, n) {
				named = append(named, n)
			}
		}
	}
	return fmt.Sprintf("cluster name %q is already used in this account by environment %s (%s): the name must be unique per account, as kforge names roles, instance profiles, launch templates and buckets after it. "+
		"Give environment %s its own `name`, or, if it is environment %s renamed, set `environment: %s` in its file",
		e.Cluster, strings.Join(envs, ", "), strings.Join(named, ", "), e.Environment, envs[0], envs[0])
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
	otherEnvs   map[string][]string // environment -> names of this cluster's resources made for it
	taken       map[string]string   // a name of GroupNames -> what holds it
}

// checkName records a launch template or group of another owner under a
// name this cluster's Terraform would create.
func (l *lister) checkName(what, name string, tags map[string]string) {
	if !slices.Contains(l.t.GroupNames, name) || tags[ClusterTag] == l.t.Cluster {
		return
	}
	owner := "another owner"
	if c := tags[ClusterTag]; c != "" {
		owner = "cluster " + c
	}
	if l.taken == nil {
		l.taken = map[string]string{}
	}
	l.taken[name] = what + " of " + owner
}

func (l *lister) add(r Resource) { l.out = append(l.out, r) }

// match returns why a resource with these tags is the cluster's, or ""
// when it is not. Only the cluster tag decides: kforge's resources carry it
// from their create (provider default tags, the launch templates' tag
// specifications), and a name proves nothing in a shared account, where an
// untagged role "prod-lambda-exec", a queue "prod-orders" or a VPC
// "prod-2" made by other tools would otherwise be prod's. (An untagged
// bucket of kforge's exact names is the one exception: see buckets.)
// A resource of this cluster made for another environment is not listed,
// but remembered: List then fails (see EnvironmentConflict).
func (l *lister) match(tags map[string]string, name string) string {
	if tags[ClusterTag] != l.t.Cluster {
		return ""
	}
	if env := tags[EnvironmentTag]; env != "" && l.t.Environment != "" && env != l.t.Environment {
		if l.otherEnvs == nil {
			l.otherEnvs = map[string][]string{}
		}
		l.otherEnvs[env] = append(l.otherEnvs[env], name)
		return ""
	}
	return "tag " + ClusterTag
}

// namedForCluster reports whether a name is one kforge gives this cluster's
// resources: <cluster> or <cluster>-.... IAM lists answer without tags, so
// only IAM entities of such names cost a call for their tags: an account's
// other ones (hundreds, some the operator may not read) cost none.
func (l *lister) namedForCluster(name string) bool {
	return name == l.t.Cluster || strings.HasPrefix(name, l.t.Cluster+"-")
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
