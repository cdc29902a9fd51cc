//go:build !unix

package harness

import (
	"fmt"
	"os"
	"syscall"
)

const processesSupported = false

func signalTerm(p *os.Process) error { return p.Signal(os.Interrupt) }
func signalStop(*os.Process) error   { return fmt.Errorf("pause: %w", ErrUnsupported) }
func signalCont(*os.Process) error   { return fmt.Errorf("resume: %w", ErrUnsupported) }

func childProcAttr() *syscall.SysProcAttr { return nil }
