// Package v1alpha1 contains the stax.dev/v1alpha1 API: the Blueprint kind.
// +kubebuilder:object:generate=true
// +groupName=stax.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the Blueprint API.
	GroupVersion = schema.GroupVersion{Group: "stax.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the API's types with a runtime.Scheme. It is
	// apimachinery's, not controller-runtime's (deprecated for API packages),
	// so importing the API pulls in nothing beyond apimachinery.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the API's types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Blueprint{}, &BlueprintList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
