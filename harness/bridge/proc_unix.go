//go:build unix

package bridge

import (
	"os"
	"syscall"
)

const processesSupported = true

func signalStop(p *os.Process) error { return p.Signal(syscall.SIGSTOP) }
func signalCont(p *os.Process) error { return p.Signal(syscall.SIGCONT) }

func signalStopRequest(p *os.Process, name string) error {
	if name == "SIGINT" {
		return p.Signal(syscall.SIGINT)
	}
	return p.Signal(syscall.SIGTERM)
}
