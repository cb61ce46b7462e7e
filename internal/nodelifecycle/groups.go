package nodelifecycle

import (
	"context"
	"fmt"
	"slices"
)

// groups are the cluster's group names as last read.
func (h *Handler) groups() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.Groups
}

// ownsGroup reports whether group is one of the cluster's. One not known
// yet may be a pool added since the groups were read: they are read again
// before the answer is no, and a failed read is an error, so that the
// event comes back rather than being dropped.
func (h *Handler) ownsGroup(ctx context.Context, group string) (bool, error) {
	if known := slices.Contains(h.groups(), group); known || h.ReloadGroups == nil {
		return known, nil
	}
	if err := h.reloadGroups(ctx); err != nil {
		return false, err
	}
	return slices.Contains(h.groups(), group), nil
}

// reloadGroups replaces Groups with what ReloadGroups reads.
func (h *Handler) reloadGroups(ctx context.Context) error {
	groups, err := h.ReloadGroups(ctx)
	if err != nil {
		return fmt.Errorf("reading the cluster's groups again: %w", err)
	}
	h.mu.Lock()
	before := h.Groups
	h.Groups = groups
	h.mu.Unlock()
	if !slices.Equal(before, groups) {
		h.logger().Info("the cluster's groups changed", "groups", groups, "before", before)
	}
	return nil
}
