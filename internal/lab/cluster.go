package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kforge/kforge/internal/awsx"
)

// ClusterOptions configures StartCluster.
type ClusterOptions struct {
	// VPC is the environment's VPC CIDR: the instances' addresses lie in it.
	VPC netip.Prefix
	// Cluster is the cluster name (the kforge.io/cluster tag).
	Cluster string
	// Region is the emulator's region for the lab's own clients.
	Region string
	// EmulatorEnv is added to moto_server's environment.
	EmulatorEnv []string
	// Packages, when set, is the Kubernetes release the nodes install
	// (their dnf stand-in's source, built once and cached); without it the
	// nodes have no package source and stop at the agent's prerequisites.
	Packages *PackagesOptions
	// MoreReleases are further Kubernetes releases the nodes' package
	// source serves (an upgrade's target), built once and cached like
	// Packages; only a lab that asks for them pays for their build.
	MoreReleases []PackagesOptions
	// TokenTTL, when set, shortens the nodes' bootstrap token lifetime
	// (Fleet.TokenTTL).
	TokenTTL string
	Options
}

// Cluster is a lab serving one kforge cluster: the emulator and resolver
// inside the VPC, and the fleet reconciling instances into nodes.
type Cluster struct {
	*Lab
	Emulator *Emulator
	Fleet    *Fleet
	resolver *Resolver
	stop     chan struct{}
	done     chan struct{}
}

// Reserved addresses of the VPC, as AWS reserves them: the router (base+1,
// the bridge), the resolver (base+2); base+3, reserved by AWS for future
// use, holds the emulator.
func reserved(vpc netip.Prefix) (router, resolver, emulator netip.Addr) {
	router = vpc.Masked().Addr().Next()
	resolver = router.Next()
	return router, resolver, resolver.Next()
}

// StartCluster creates the lab for a cluster: VPC, emulator (its loopback
// URL is Emulator.URL, for kforge and Terraform), resolver, and a loop that
// boots a node for every instance the emulator launches for the cluster.
func StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	opts.CIDR = opts.VPC
	var pkgs *Packages
	if opts.Packages != nil {
		po := *opts.Packages
		if po.Log == nil {
			po.Log = opts.Log
		}
		var err error
		if pkgs, err = EnsurePackages(ctx, po); err != nil {
			return nil, err
		}
	}
	var more []*Packages
	for _, po := range opts.MoreReleases {
		if pkgs == nil {
			return nil, fmt.Errorf("lab: more Kubernetes releases without a package source (set Packages)")
		}
		if po.Log == nil {
			po.Log = opts.Log
		}
		p, err := EnsurePackages(ctx, po)
		if err != nil {
			return nil, err
		}
		if p.Kubernetes == pkgs.Kubernetes {
			return nil, fmt.Errorf("lab: Kubernetes %s asked for twice in the package source", p.Kubernetes)
		}
		more = append(more, p)
	}
	l, err := New(ctx, opts.Options)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Lab: l, stop: make(chan struct{}), done: make(chan struct{})}
	fail := func(err error) (*Cluster, error) {
		close(c.done)
		_ = l.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	_, resolverAddr, emulatorAddr := reserved(opts.VPC)
	if c.Emulator, err = l.StartEmulator(ctx, emulatorAddr, opts.EmulatorEnv); err != nil {
		return fail(err)
	}
	cfg, err := awsx.Config(ctx, opts.Region, c.Emulator.URL)
	if err != nil {
		return fail(err)
	}
	if err := l.Net.AddAddress(ctx, resolverAddr); err != nil {
		return fail(err)
	}
	res := NewResolver(Route53Zones(route53.NewFromConfig(cfg)), 2*time.Second)
	if err := res.ServeIn(l.Net.NS, resolverAddr.String()+":53"); err != nil {
		return fail(err)
	}
	l.OnClose(func(context.Context) error { return res.Close() })
	c.resolver = res
	c.Fleet = &Fleet{Lab: l, Cluster: opts.Cluster, EC2: ec2.NewFromConfig(cfg), IAM: iam.NewFromConfig(cfg), STS: sts.NewFromConfig(cfg), AutoScaling: autoscaling.NewFromConfig(cfg),
		Events: eventbridge.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg),
		Endpoint: c.Emulator.VPCURL, Resolver: resolverAddr, Packages: pkgs, MoreReleases: more, TokenTTL: opts.TokenTTL}
	go c.reconcileLoop()
	return c, nil
}

// reconcileLoop keeps the nodes in step with the emulator's instances, as
// the cloud would: a launched instance boots, a terminated one stops.
func (c *Cluster) reconcileLoop() {
	defer close(c.done)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		booted, stopped, err := c.Fleet.Reconcile(ctx)
		cancel()
		for _, id := range booted {
			fmt.Fprintf(c.Log, "lab: node %s booted\n", id)
		}
		for _, id := range stopped {
			fmt.Fprintf(c.Log, "lab: node %s stopped (its instance is gone)\n", id)
		}
		if err != nil {
			fmt.Fprintf(c.Log, "lab: reconcile: %v\n", err)
		}
		select {
		case <-c.stop:
			return
		case <-time.After(3 * time.Second):
		}
	}
}

// Close stops reconciling and takes the whole lab down.
func (c *Cluster) Close(ctx context.Context) error {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	c.Fleet.Close()
	return c.Lab.Close(ctx)
}

// ForwardAPI opens a loopback forward to the cluster's API server: to
// name:6443 (api.<domain>), looked up in the lab's zones for every
// connection, so it follows the control plane when the record moves to a
// replacement. The host reaches the API server only through it.
func (c *Cluster) ForwardAPI(name string) (*Forward, error) {
	f, err := NewResolvingForward(c.Net.NS, func(ctx context.Context) (string, error) {
		ip, err := c.resolver.LookupA(ctx, name)
		if err != nil {
			return "", err
		}
		return net.JoinHostPort(ip, "6443"), nil
	})
	if err != nil {
		return nil, err
	}
	c.OnClose(func(context.Context) error { return f.Close() })
	return f, nil
}
