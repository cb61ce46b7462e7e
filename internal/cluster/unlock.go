package cluster

import "context"

// RunUnlock releases the state lock lockID that a killed run left
// (terraform force-unlock). The caller confirms first: two runs writing
// the same state corrupt it.
func RunUnlock(ctx context.Context, e *Env, lockID string) error {
	r, err := e.InitRunner(ctx)
	if err != nil {
		return err
	}
	return r.ForceUnlock(ctx, lockID)
}
