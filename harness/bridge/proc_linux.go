//go:build linux

package bridge

import "syscall"

// childProcAttr makes the kernel SIGKILL a replicator child if the test
// process dies first, so an interrupted run leaves no replicator behind.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
