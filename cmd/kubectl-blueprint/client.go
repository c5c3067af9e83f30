package main

import (
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// fieldOwner names the plugin in the managedFields of what it writes.
const fieldOwner = "kubectl-blueprint"

// newClient connects to the cluster the standard kubectl flags select and
// returns a client for Blueprints with the namespace to work in.
func newClient(flags *genericclioptions.ConfigFlags, warnings io.Writer) (client.Client, string, error) {
	namespace, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", err
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, "", err
	}
	// Without a handler of its own, controller-runtime routes API warnings
	// to its logger, which a command line tool never sets up; kubectl prints
	// them on stderr.
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NewWarningWriter(warnings, rest.WarningWriterOptions{Deduplicate: true})
	scheme := runtime.NewScheme()
	if err := staxv1alpha1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	// Secrets, for run.
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme, FieldOwner: fieldOwner})
	if err != nil {
		return nil, "", err
	}
	return c, namespace, nil
}
