package controller

import (
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// startControllerManager runs kube-controller-manager's garbage collector
// (and the PersistentVolumeClaim protection controller, which lets a
// collected claim that no pod uses go) against the test API server. envtest runs no controllers, and the
// deletionPolicy specs need real garbage collection through ownerReferences.
// The binary is built next to kube-apiserver by hack/envtest-binaries.sh.
func startControllerManager(env *envtest.Environment) *exec.Cmd {
	binary := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kube-controller-manager")
	_, err := os.Stat(binary)
	Expect(err).NotTo(HaveOccurred(), "kube-controller-manager is needed for garbage collection; run through 'make test', which builds it")

	user, err := env.AddUser(envtest.User{Name: "kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := user.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	dir, err := os.MkdirTemp("", "kcm-")
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(dir, "kubeconfig")
	Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())

	cmd := exec.Command(binary,
		"--kubeconfig="+path,
		"--controllers=garbage-collector-controller,persistentvolumeclaim-protection-controller",
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
	)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if os.Getenv("KCM_VERBOSE") == "" {
		cmd.Stdout, cmd.Stderr = nil, nil
	}
	dieWithParent(cmd)
	Expect(cmd.Start()).To(Succeed())
	return cmd
}
