//go:build unix

package refemu

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the child in its own process group so Close can kill
// everything it spawned; setPdeathsig (Linux only) makes the kernel kill it if
// the test binary dies first.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setPdeathsig(cmd.SysProcAttr)
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	// Negative pid: the whole group. Fall back to the process itself if the
	// group is already gone.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		_ = cmd.Process.Kill()
	}
}

// termProcess asks the child alone (not its group) to stop: a JVM shuts
// down cleanly on SIGTERM.
func termProcess(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Signal(syscall.SIGTERM)
}
