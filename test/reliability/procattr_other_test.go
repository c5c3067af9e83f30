//go:build reliability && !linux

package reliability

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
