package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kforge/kforge/internal/kubeadm"
)

// etcd refuses every write once its database file reaches the backend
// quota (the NOSPACE alarm): the API server then fails every create and
// update until the space is reclaimed and the alarm disarmed. The database
// grows with the cluster's objects and their history, and keeps its size
// after compaction until it is defragmented, so validate reports it well
// before the quota.
const (
	// etcdSpaceLimit is the share of the quota at which validate reports
	// the database as a problem.
	etcdSpaceLimit = 0.8
	// etcdSizeMetric is the API server's gauge of the size of the etcd
	// database file, one series per storage cluster, refreshed every
	// --etcd-db-metric-poll-interval (30 s by default).
	etcdSizeMetric = "apiserver_storage_size_bytes"
)

// etcdDBSize reads the largest etcd database size the API server reports
// on /metrics; found is false when it reports none yet (in the first poll
// interval after it starts).
func etcdDBSize(ctx context.Context, client *http.Client, server string) (size int64, found bool, err error) {
	metrics, err := apiGet(ctx, client, server, "/metrics", "text/plain", "reading the API server's metrics")
	if err != nil {
		return 0, false, err
	}
	defer metrics.Close()
	size, found, err = EtcdDBSizeFromMetrics(metrics)
	if err != nil {
		return 0, false, fmt.Errorf("reading the API server's metrics at %s: %w", server, err)
	}
	return size, found, nil
}

// EtcdDBSizeFromMetrics reads the largest etcdSizeMetric sample from the
// API server's metrics in Prometheus' text format (`name{labels} value`,
// one sample a line); found is false when there is none.
func EtcdDBSizeFromMetrics(metrics io.Reader) (size int64, found bool, err error) {
	sc := bufio.NewScanner(metrics)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, etcdSizeMetric)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		fields := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(fields) == 0 {
			return 0, false, fmt.Errorf("no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, false, fmt.Errorf("reading %q: %w", line, err)
		}
		size, found = max(size, int64(v)), true
	}
	if err := sc.Err(); err != nil {
		return 0, false, err
	}
	return size, found, nil
}

// etcdSpaceProblem describes a database at or past etcdSpaceLimit of the
// quota, and what to do; "" below it.
func etcdSpaceProblem(size, quota int64) string {
	if quota <= 0 || float64(size) < etcdSpaceLimit*float64(quota) {
		return ""
	}
	return fmt.Sprintf("the etcd database is %d MiB, %.0f%% of its %d MiB quota: at the quota etcd refuses every write; "+
		"defragment it, or raise controlPlane.etcdQuotaGiB (docs/OPERATIONS.md, \"etcd database space\")", size>>20, 100*float64(size)/float64(quota), quota>>20)
}

// EtcdPodSelector finds etcd's mirror pod: kubeadm labels its static
// pods with their component.
const EtcdPodSelector = "component=etcd"

// runningEtcdQuota is the quota etcd runs with, read off the command of its
// static pod (the mirror pod the kubelet publishes in kube-system); found
// is false when there is no such pod, or it has no etcd container.
func runningEtcdQuota(ctx context.Context, client *http.Client, server string) (quota int64, found bool, err error) {
	resp, err := apiGet(ctx, client, server, "/api/v1/namespaces/kube-system/pods?labelSelector="+url.QueryEscape(EtcdPodSelector),
		"application/json", "listing the etcd pod")
	if err != nil {
		return 0, false, err
	}
	defer resp.Close()
	var pods corev1.PodList
	if err := json.NewDecoder(io.LimitReader(resp, 8<<20)).Decode(&pods); err != nil {
		return 0, false, fmt.Errorf("decoding the etcd pod from %s: %w", server, err)
	}
	return EtcdQuotaOfPods(pods.Items)
}

// EtcdQuotaOfPods is the quota of the etcd container of the first of pods
// that has one (kubeadm's etcd static pod); found is false when none has.
func EtcdQuotaOfPods(pods []corev1.Pod) (quota int64, found bool, err error) {
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			if c.Name != "etcd" {
				continue
			}
			quota, err := kubeadm.EtcdQuotaFromCommand(c.Command)
			if err != nil {
				return 0, false, fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Name, err)
			}
			return quota, true, nil
		}
	}
	return 0, false, nil
}
