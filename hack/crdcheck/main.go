// Command crdcheck installs config/crd/bases into a throwaway envtest API
// server and prints the server's verdict. It exists to iterate on CEL rules,
// whose cost the API server estimates at install time.
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	env := &envtest.Environment{CRDDirectoryPaths: []string{"config/crd/bases"}, ErrorIfCRDPathMissing: true}
	_, err := env.Start()
	if err != nil {
		fmt.Println(err)
	} else {
		fmt.Println("CRD installed")
	}
	_ = env.Stop()
	if err != nil {
		os.Exit(1)
	}
}
