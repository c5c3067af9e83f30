package controller

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// The index deleteStaleObjects lists by holds each rendered object under
// the Blueprint its label names, and nothing rendered for no Blueprint.
func TestRenderedFor(t *testing.T) {
	for name, tc := range map[string]struct {
		labels map[string]string
		want   []string
	}{
		"rendered":             {map[string]string{staxv1alpha1.LabelBlueprint: "payments", "app": "x"}, []string{"payments"}},
		"no labels":            {nil, nil},
		"someone else's":       {map[string]string{"app": "x"}, nil},
		"an empty label value": {map[string]string{staxv1alpha1.LabelBlueprint: ""}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Labels: tc.labels}}
			if got := renderedFor(d); !slices.Equal(got, tc.want) {
				t.Errorf("renderedFor = %q, want %q", got, tc.want)
			}
		})
	}
}
