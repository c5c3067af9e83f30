package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

// The README: a missing ServiceAccount is looked for again every 30 s (they
// are not watched), a missing pull Secret needs no timer (the Secret
// metadata watch sees it appear); both are reported, neither holds the
// Deployment back.
func TestPodReferencesRecheck(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	bp := &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-dev", Namespace: "payments"},
		Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
			Name: "api", Image: "api:1", ServiceAccountName: "api-reader",
			ImagePullSecrets: []staxv1alpha1.ImagePullSecret{{Name: "regcred"}},
		}}},
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "api-reader", Namespace: "payments"}}
	pull := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "payments"}}

	for name, c := range map[string]struct {
		existing     []runtime.Object
		requeueAfter time.Duration // set by an earlier phase
		wantReasons  []string
		wantRequeue  time.Duration
	}{
		"both missing":                  {wantReasons: []string{staxv1alpha1.ReasonServiceAccountNotFound, staxv1alpha1.ReasonImagePullSecretNotFound}, wantRequeue: 30 * time.Second},
		"an earlier requeue is kept":    {requeueAfter: 5 * time.Second, existing: []runtime.Object{pull}, wantReasons: []string{staxv1alpha1.ReasonServiceAccountNotFound}, wantRequeue: 5 * time.Second},
		"a later requeue is brought in": {requeueAfter: time.Hour, existing: []runtime.Object{pull}, wantReasons: []string{staxv1alpha1.ReasonServiceAccountNotFound}, wantRequeue: 30 * time.Second},
		"pull Secret missing: no timer": {existing: []runtime.Object{sa}, wantReasons: []string{staxv1alpha1.ReasonImagePullSecretNotFound}},
		"both exist":                    {existing: []runtime.Object{sa, pull}},
	} {
		t.Run(name, func(t *testing.T) {
			r := &BlueprintReconciler{apiReader: fake.NewClientBuilder().WithScheme(scheme).WithRuntimeObjects(c.existing...).Build(), secrets: newSecretMemo()}
			plan, _ := render.Build(bp)
			sc := &scope{bp: bp, plan: plan, blocked: map[string]bool{}, heldHooks: map[string]bool{}, referenced: map[string]*corev1.Secret{}, notReferenceable: map[string]bool{}}
			res, err := r.checkReferences(context.Background(), sc)
			if err != nil {
				t.Fatal(err)
			}
			// Merged with the result of an earlier phase, as Reconcile does.
			res = lowestNonZero(ctrl.Result{RequeueAfter: c.requeueAfter}, res)
			var reasons []string
			for _, p := range sc.problems {
				reasons = append(reasons, p.Reason)
			}
			if len(reasons) != len(c.wantReasons) || (len(reasons) > 0 && reasons[0] != c.wantReasons[0]) || (len(reasons) > 1 && reasons[1] != c.wantReasons[1]) {
				t.Errorf("problems %v, want %v", reasons, c.wantReasons)
			}
			if len(sc.blocked) > 0 {
				t.Errorf("blocked %v: a missing ServiceAccount or pull Secret holds nothing back", sc.blocked)
			}
			if res.RequeueAfter != c.wantRequeue {
				t.Errorf("requeueAfter %v, want %v", res.RequeueAfter, c.wantRequeue)
			}
		})
	}
}

// A Blueprint edited to name more Secrets than it may read reads none, and
// the memo lets go of the Secrets it read before, keeping its generated one.
func TestTooManySecretsLetsGoOfReadSecrets(t *testing.T) {
	bp := &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "ns"},
		Spec:       staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{Name: "api", Image: "api:1"}, {Name: "worker", Image: "worker:1"}}},
	}
	for i := range render.MaxSecretsRead + 1 {
		svc := &bp.Spec.Services[i%2]
		if svc.Env == nil {
			svc.Env = map[string]staxv1alpha1.EnvValue{}
		}
		svc.Env[fmt.Sprintf("V%03d", i)] = staxv1alpha1.EnvValue(fmt.Sprintf("${secret:s%03d/key}", i))
	}
	plan, _ := render.Build(bp)
	if plan.TooManySecrets == 0 {
		t.Fatal("the fixture is within the bound")
	}
	memo := newSecretMemo()
	key := func(n string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: n} }
	for _, n := range []string{"s000", "shop-generated"} {
		memo.put(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: n, ResourceVersion: "1"}})
	}
	memo.retain(key("shop"), []types.NamespacedName{key("s000"), key("shop-generated")})

	r := &BlueprintReconciler{secrets: memo}
	sc := &scope{bp: bp, plan: plan, blocked: map[string]bool{}, heldHooks: map[string]bool{}, referenced: map[string]*corev1.Secret{}, notReferenceable: map[string]bool{}}
	if _, err := r.checkReferences(context.Background(), sc); err != nil { // no reader: a read would panic
		t.Fatal(err)
	}
	if len(sc.problems) != 1 || sc.problems[0].Reason != staxv1alpha1.ReasonTooManySecrets || !sc.blocked["api"] || !sc.blocked["worker"] {
		t.Fatalf("problems %+v, blocked %v", sc.problems, sc.blocked)
	}
	var out corev1.Secret
	if memo.get(key("s000"), "1", &out) {
		t.Error("the memo still holds a Secret the Blueprint no longer reads")
	}
	if !memo.get(key("shop-generated"), "1", &out) {
		t.Error("the memo let go of the generated Secret")
	}
}

// Under the lockdown an unlabelled ServiceAccount holds its service back
// and is looked at again after 30 s: ServiceAccounts are not watched, so
// nothing else would notice it being labelled.
func TestUnlabelledServiceAccountIsLookedForAgain(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	bp := &staxv1alpha1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-dev", Namespace: "payments"},
		Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
			Name: "api", Image: "api:1", ServiceAccountName: "ci-deployer",
		}}},
	}
	for name, c := range map[string]struct {
		labels      map[string]string
		wantReasons int
		wantRequeue time.Duration
	}{
		"unlabelled": {wantReasons: 1, wantRequeue: podReferenceRecheck},
		"labelled":   {labels: map[string]string{staxv1alpha1.LabelReferenceable: "true"}},
	} {
		t.Run(name, func(t *testing.T) {
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ci-deployer", Namespace: "payments", Labels: c.labels}}
			r := &BlueprintReconciler{apiReader: fake.NewClientBuilder().WithScheme(scheme).WithRuntimeObjects(sa).Build(), secrets: newSecretMemo(), requireReferenceableLabel: true}
			plan, _ := render.Build(bp)
			sc := &scope{bp: bp, plan: plan, blocked: map[string]bool{}, heldHooks: map[string]bool{}, referenced: map[string]*corev1.Secret{}, notReferenceable: map[string]bool{}}
			res, err := r.checkReferences(context.Background(), sc)
			if err != nil {
				t.Fatal(err)
			}
			if len(sc.problems) != c.wantReasons || (c.wantReasons > 0 && (sc.problems[0].Reason != staxv1alpha1.ReasonServiceAccountNotReferenceable || !sc.blocked["api"])) {
				t.Errorf("problems %+v, blocked %v", sc.problems, sc.blocked)
			}
			if res.RequeueAfter != c.wantRequeue {
				t.Errorf("requeueAfter %v, want %v", res.RequeueAfter, c.wantRequeue)
			}
		})
	}
}
