package redistest

import "syscall"

// sysProcAttr has the kernel kill redis-server if the test process dies
// before its cleanup runs (a panic or a -timeout), so that no server outlives
// the test binary.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
