//go:build reliability

package reliability

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// user is an envtest identity of its own, so the audit log tells apart
// who sent what.
type user struct {
	name string
	// config reaches the API server directly as this user.
	config *rest.Config
	// kubeconfig is a kubeconfig file for config.
	kubeconfig string
}

func addUser(name string) user {
	u, err := testEnv.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	kc, err := u.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	return user{name: name, config: u.Config(), kubeconfig: writeFile(name+".kubeconfig", kc)}
}

func writeFile(name string, data []byte) string {
	path := filepath.Join(workDir, name)
	Expect(os.WriteFile(path, data, 0o600)).To(Succeed())
	return path
}

// managerProcess is one run of the manager binary.
type managerProcess struct {
	name    string
	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{}
	started time.Time
	once    sync.Once
}

// startManager runs the manager binary with kubeconfig, its output appended
// to <workDir>/<name>.log. It is killed at the end of the spec if the spec
// has not done so.
func startManager(name, kubeconfig string, extraArgs ...string) *managerProcess {
	m, err := launchManager(name, kubeconfig, extraArgs...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(m.kill)
	return m
}

// launchManager is startManager for any goroutine: no assertion, no cleanup.
func launchManager(name, kubeconfig string, extraArgs ...string) (*managerProcess, error) {
	logPath := filepath.Join(workDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "==== start %s\n", time.Now().Format(time.RFC3339Nano))
	args := append([]string{
		"--kubeconfig=" + kubeconfig,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
	}, extraArgs...)
	cmd := exec.Command(managerBinary, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, err
	}
	m := &managerProcess{name: name, cmd: cmd, log: f, done: make(chan struct{}), started: time.Now()}
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "==== exit %s: %v\n", time.Now().Format(time.RFC3339Nano), err)
		_ = f.Close()
		close(m.done)
	}()
	return m, nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (m *managerProcess) kill() {
	m.once.Do(func() { _ = m.cmd.Process.Signal(syscall.SIGKILL) })
	<-m.done
}

// stop asks the manager to shut down (SIGTERM) and waits; SIGKILL after 10s.
func (m *managerProcess) stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		m.kill()
	}
}

func (m *managerProcess) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// supervisedManager keeps a manager running the way kubelet keeps a
// container running: when it exits, it is started again after a pause. It
// counts the restarts; a fault test reports them.
type supervisedManager struct {
	mu       sync.Mutex
	current  *managerProcess
	restarts int
	stopped  bool
	done     chan struct{}
}

func superviseManager(name, kubeconfig string, extraArgs ...string) *supervisedManager {
	s := &supervisedManager{current: startManager(name, kubeconfig, extraArgs...), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			s.mu.Lock()
			m := s.current
			s.mu.Unlock()
			<-m.done
			time.Sleep(time.Second)
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				return
			}
			next, err := launchManager(name, kubeconfig, extraArgs...)
			if err != nil {
				s.mu.Unlock()
				GinkgoWriter.Printf("restarting manager %s: %v\n", name, err)
				return
			}
			s.restarts++
			s.current = next
			s.mu.Unlock()
		}
	}()
	DeferCleanup(s.stop)
	return s
}

// Restarts is how many times the manager had to be started again.
func (s *supervisedManager) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

func (s *supervisedManager) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	m := s.current
	s.mu.Unlock()
	m.stop()
	<-s.done
}

// logCount counts the lines of a manager's log file that contain s.
func logCount(name, s string) int {
	b, err := os.ReadFile(filepath.Join(workDir, name+".log"))
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte(s))
}
