package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// managerContainer is the manager's container in config/manager/manager.yaml.
const managerContainer = "manager"

// readShippedMemoryLimit reads the manager's memory limit from the manifest
// at path (config/manager/manager.yaml).
func readShippedMemoryLimit(path string) (resource.Quantity, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return resource.Quantity{}, err
	}
	q, err := shippedMemoryLimit(raw)
	if err != nil {
		return q, fmt.Errorf("%s: %w", path, err)
	}
	return q, nil
}

// shippedMemoryLimit is resources.limits.memory of the container named
// manager of the Deployment in manifest, a stream of YAML documents.
func shippedMemoryLimit(manifest []byte) (resource.Quantity, error) {
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return resource.Quantity{}, fmt.Errorf("no Deployment with a container %q", managerContainer)
		}
		if err != nil {
			return resource.Quantity{}, err
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return resource.Quantity{}, err
		}
		if tm.Kind != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.Unmarshal(doc, &d); err != nil {
			return resource.Quantity{}, err
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name != managerContainer {
				continue
			}
			q, ok := c.Resources.Limits[corev1.ResourceMemory]
			if !ok || q.IsZero() {
				return resource.Quantity{}, fmt.Errorf("container %q of Deployment %s sets no memory limit", c.Name, d.Name)
			}
			return q, nil
		}
	}
}
