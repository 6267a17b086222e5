package redistest

import "syscall"

// sysProcAttr has the kernel kill redis-server if the test process dies
// before its cleanup runs (a panic or a -timeout), so that no server outlives
// the test binary. Linux sends the signal when the thread that started the
// child exits; Go only ends a thread whose goroutine locked it and returned,
// which tests starting servers do not do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
