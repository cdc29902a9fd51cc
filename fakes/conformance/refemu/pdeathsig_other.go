//go:build unix && !linux

package refemu

import "syscall"

func setPdeathsig(*syscall.SysProcAttr) {}
