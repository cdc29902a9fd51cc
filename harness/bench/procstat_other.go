//go:build !linux

package bench

import (
	"errors"
	"syscall"
	"time"
)

var errNoProc = errors.New("needs Linux's /proc")

func cpuTime(int) (time.Duration, error) { return 0, errNoProc }
func peakRSS(int) (int64, error)         { return 0, errNoProc }

// maxRSS: other Unix systems differ in ru_maxrss's unit, so none is claimed.
func maxRSS(*syscall.Rusage) int64 { return 0 }

func childAttr() *syscall.SysProcAttr { return nil }
