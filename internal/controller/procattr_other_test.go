//go:build !linux

package controller

import "os/exec"

// dieWithParent has no portable equivalent outside Linux; teardown kills the
// process instead.
func dieWithParent(*exec.Cmd) {}
