// Package lab holds the lab's scenarios (`make lab`): the local cluster is
// applied to the emulator running inside the lab's VPC, and every instance
// its Auto Scaling Groups launch boots as a real node (internal/lab) running
// the production user data and node agent.
package lab
