//go:build unix && !linux

package bridge

import "syscall"

func childProcAttr() *syscall.SysProcAttr { return nil }
