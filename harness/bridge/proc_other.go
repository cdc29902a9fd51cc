//go:build !unix

package bridge

import (
	"fmt"
	"os"
	"syscall"
)

const processesSupported = false

func signalStop(*os.Process) error { return fmt.Errorf("pause: %w", ErrUnsupported) }
func signalCont(*os.Process) error { return fmt.Errorf("resume: %w", ErrUnsupported) }

func childProcAttr() *syscall.SysProcAttr { return nil }

func signalStopRequest(p *os.Process, _ string) error { return p.Signal(os.Interrupt) }
