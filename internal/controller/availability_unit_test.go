package controller

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/stax-dev/blueprint-operator/internal/testutil"
)

// A reconcile asks whether a service's Deployment is available once per
// resourceVersion it reads: status reads the Deployment again and gets the
// same answer, and a newer read is asked anew.
func TestAvailabilityIsAskedOncePerResourceVersion(t *testing.T) {
	deployment := func(rv string, rolledOut bool) *appsv1.Deployment {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", ResourceVersion: rv, Generation: 1},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)},
		}
		if rolledOut {
			d.Status = testutil.AvailableStatus(d)
		}
		return d
	}
	sc := &scope{}
	if sc.available("web", deployment("1", false)) {
		t.Fatal("a Deployment that reports nothing read as available")
	}
	// The same resourceVersion read again: the first answer, which a
	// rolled-out status in this copy would contradict if it were asked
	// again. (A copy at one resourceVersion cannot differ from another
	// outside a test; this shows the second read is not asked.)
	if sc.available("web", deployment("1", true)) {
		t.Error("the same resourceVersion was asked again")
	}
	if !sc.available("web", deployment("2", true)) {
		t.Error("a newer resourceVersion, rolled out, kept the older answer")
	}
	if !sc.available("web", deployment("2", false)) {
		t.Error("the answer at resourceVersion 2 was not kept")
	}
	if sc.available("api", deployment("2", false)) {
		t.Error("another service shared web's answer")
	}
}
