// Package proc runs the manager as a separate process and reads what
// /proc says about processes: peak resident memory and CPU time.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Manager is a running manager process.
type Manager struct {
	cmd     *exec.Cmd
	LogPath string
	Started time.Time
	done    chan struct{}
	err     error
}

// Start runs bin with args, its output going to logPath; env, as
// "NAME=value", is added to the bench's own environment (GOMEMLIMIT, as
// production's cgroup limit would set it).
func Start(bin string, args []string, logPath string, env ...string) (*Manager, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Should the bench die, the manager goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	m := &Manager{cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	m.Started = time.Now()
	go func() {
		m.err = cmd.Wait()
		logFile.Close()
		close(m.done)
	}()
	return m, nil
}

// PID is the process id.
func (m *Manager) PID() int { return m.cmd.Process.Pid }

// WaitSynced waits until the controller has started its workers, which
// controller-runtime does once every cache it watches has synced, and
// returns when it saw that.
func (m *Manager) WaitSynced(ctx context.Context, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-m.done:
			return time.Time{}, fmt.Errorf("manager exited before its caches synced (%w); log %s:\n%s", m.exitErr(), m.LogPath, tail(m.LogPath))
		default:
		}
		raw, err := os.ReadFile(m.LogPath)
		if err != nil {
			return time.Time{}, err
		}
		if bytes.Contains(raw, []byte(`"Starting workers"`)) {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("manager's caches did not sync within %s; log %s:\n%s", timeout, m.LogPath, tail(m.LogPath))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM and waits for the process to end, killing it after
// 20 s.
func (m *Manager) Stop() error {
	select {
	case <-m.done:
		return nil
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	var exitErr *exec.ExitError
	if m.err != nil && !errors.As(m.err, &exitErr) {
		return m.err
	}
	return nil
}

// ErrExitedCleanly is how Exited reports a process that exited with status 0.
var ErrExitedCleanly = errors.New("exit status 0")

// Exited reports whether the process ended, and how: its exit error, or
// ErrExitedCleanly.
func (m *Manager) Exited() (bool, error) {
	select {
	case <-m.done:
		return true, m.exitErr()
	default:
		return false, nil
	}
}

// exitErr is how the ended process ended, never nil.
func (m *Manager) exitErr() error {
	if m.err == nil {
		return ErrExitedCleanly
	}
	return m.err
}

func tail(path string) string {
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// Memory is what /proc/PID/status says about a process's resident memory.
type Memory struct {
	// PeakKiB is VmHWM: the peak resident set size.
	PeakKiB int64 `json:"peakKiB"`
	// CurrentKiB is VmRSS.
	CurrentKiB int64 `json:"currentKiB"`
}

// ReadMemory reads /proc/PID/status.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmHWM:":
			m.PeakKiB = v
		case "VmRSS:":
			m.CurrentKiB = v
		}
	}
	if m.PeakKiB == 0 {
		return m, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	return m, sc.Err()
}

// clockTicks is USER_HZ, 100 on every Linux the bench runs on.
const clockTicks = 100

// CPUSeconds is the user and system CPU time pid has used; 0 when it cannot
// be read.
func CPUSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may contain spaces; fields resume after its ')'.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / clockTicks
}

// FindPID returns the process whose command line contains every one of
// parts, or 0.
func FindPID(parts ...string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		raw, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		cmdline := string(raw)
		found := true
		for _, p := range parts {
			if !strings.Contains(cmdline, p) {
				found = false
				break
			}
		}
		if found {
			pid, _ := strconv.Atoi(filepath.Base(d))
			return pid
		}
	}
	return 0
}
