//go:build reliability

package reliability

import "syscall"

// procAttr makes a manager die with the test process, so an aborted run
// leaves no manager behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
