package controller

import (
	"context"
	"crypto/rand"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/install"
	"github.com/stax-dev/blueprint-operator/internal/render"
)

// The namespace restriction, held to a real API server's RBAC: the Helm
// chart, rendered with watchNamespaces, is installed into a control plane of
// its own, and a manager runs with the chart's ServiceAccount token and the
// cache options --watch-namespaces gives cmd/main.go. It cannot share the
// suite's control plane, whose manager reconciles every namespace as an
// administrator.
var _ = Describe("Namespace restriction", Ordered, func() {
	const (
		release          = "blueprint-operator"
		releaseNamespace = "blueprint-operator-system"
		serviceAccount   = release + "-controller-manager"
		watched          = "team-a"
		unwatched        = "team-b"
		leaderElectionID = "blueprint-operator.stax.dev"
	)
	var (
		admin client.Client
		// managerConfig authenticates as the chart's ServiceAccount, with a
		// token like the one kubelet mounts into the manager's pod.
		managerConfig *rest.Config
		identity      authenticationv1.UserInfo
	)

	BeforeAll(func(ctx SpecContext) {
		env := &envtest.Environment{}
		// envtest's default, spelt out: under any other mode the reviews and
		// the restricted manager below would prove nothing.
		env.ControlPlane.GetAPIServer().Configure().Set("authorization-mode", "RBAC")
		adminConfig, err := env.Start()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(env.Stop)
		admin, err = client.New(adminConfig, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())

		for _, ns := range []string{releaseNamespace, watched, unwatched} {
			Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		}
		objects, err := install.HelmChart("../../dist/chart", release, releaseNamespace,
			map[string]any{"watchNamespaces": []any{watched}})
		Expect(err).NotTo(HaveOccurred())
		for _, obj := range objects {
			Expect(admin.Create(ctx, obj)).To(Succeed(), "%s %s", obj.GetKind(), obj.GetName())
		}
		Eventually(func(g Gomega) {
			g.Expect(admin.List(ctx, &staxv1alpha1.BlueprintList{})).To(Succeed())
		}, timeout, interval).Should(Succeed(), "the chart's CRD is established")

		token, err := kubernetes.NewForConfigOrDie(adminConfig).CoreV1().ServiceAccounts(releaseNamespace).CreateToken(ctx,
			serviceAccount, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		managerConfig = rest.AnonymousClientConfig(adminConfig)
		managerConfig.BearerToken = token.Status.Token

		// The reviews below ask about whoever the API server takes the
		// manager's token for.
		self, err := kubernetes.NewForConfigOrDie(managerConfig).AuthenticationV1().SelfSubjectReviews().Create(ctx,
			&authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		identity = self.Status.UserInfo
		Expect(identity.Username).To(Equal("system:serviceaccount:" + releaseNamespace + ":" + serviceAccount))
	})

	DescribeTable("the API server authorizes the manager's Secret access",
		func(ctx SpecContext, namespace, verb string, allowed bool) {
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: identity.Username, UID: identity.UID, Groups: identity.Groups,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Resource: "secrets"},
			}}
			Expect(admin.Create(ctx, review)).To(Succeed())
			Expect(review.Status.Allowed).To(Equal(allowed), "reason: %q", review.Status.Reason)
			Expect(review.Status.Denied).To(BeFalse(), "RBAC never denies outright, it only does not allow")
		},
		Entry("get in the watched namespace", watched, "get", true),
		Entry("list in the watched namespace", watched, "list", true),
		Entry("watch in the watched namespace", watched, "watch", true),
		Entry("get in another namespace", unwatched, "get", false),
		Entry("list in another namespace", unwatched, "list", false),
		Entry("watch in another namespace", unwatched, "watch", false),
		Entry("list across the cluster", "", "list", false),
		Entry("watch across the cluster", "", "watch", false),
	)

	It("reconciles Blueprints in its namespaces and leaves the others alone", func(ctx SpecContext) {
		// The Blueprint outside is created first: a manager that could see it
		// would have it queued before the one it is allowed to reconcile.
		for _, ns := range []string{unwatched, watched} {
			apiKey := rand.Text()
			rememberValue(apiKey)
			Expect(admin.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "stripe", Namespace: ns},
				StringData: map[string]string{"api-key": apiKey},
			})).To(Succeed())
			Expect(admin.Create(ctx, paymentsBlueprint(ns))).To(Succeed())
		}

		// Production options, restricted to one namespace as
		// --watch-namespaces does.
		opts := DefaultOptions()
		opts.WatchNamespaces = []string{watched}
		mgr, err := ctrl.NewManager(managerConfig, opts.ManagerOptions(ctrl.Options{
			Scheme:                        scheme,
			Metrics:                       metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress:        "0",
			LeaderElection:                true,
			LeaderElectionID:              leaderElectionID,
			LeaderElectionNamespace:       releaseNamespace,
			LeaderElectionReleaseOnCancel: true,
			// The suite's manager registered the controller's name in this
			// process already.
			Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		}))
		Expect(err).NotTo(HaveOccurred())
		mgrCtx, stop := context.WithCancel(context.Background())
		Expect(Setup(mgrCtx, mgr, opts)).To(Succeed())
		stopped := make(chan error, 1)
		go func() { stopped <- mgr.Start(mgrCtx) }()
		DeferCleanup(func() {
			stop()
			// Bounded: controller-runtime's Start does not return when it is
			// stopped before its caches have synced, as happens when the
			// manager asks for more than its Roles grant.
			Eventually(stopped, timeout).Should(Receive(BeNil()))
		})

		// A manager whose cache asked for more than the Roles grant would
		// never sync it, and so never reconcile anything.
		Eventually(func(g Gomega) {
			bp := &staxv1alpha1.Blueprint{}
			g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: watched, Name: "payments-dev"}, bp)).To(Succeed())
			ready := meta.FindStatusCondition(bp.Status.Conditions, staxv1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.ObservedGeneration).To(Equal(bp.Generation))
			g.Expect(ready.Reason).To(Equal(staxv1alpha1.ReasonProgressing))
		}, timeout, interval).Should(Succeed(), "no reconcile in %s: look for Forbidden in the log", watched)
		generated := &corev1.Secret{}
		Expect(admin.Get(ctx, types.NamespacedName{Namespace: watched, Name: render.GeneratedSecretName("payments-dev")}, generated)).To(Succeed())
		Expect(generated.Data).To(HaveKey("db-password"))
		rememberValue(string(generated.Data["db-password"]))
		for _, name := range []string{"db", "api"} {
			Expect(admin.Get(ctx, types.NamespacedName{Namespace: watched, Name: name}, &appsv1.Deployment{})).To(Succeed())
		}

		lease := &coordinationv1.Lease{}
		Expect(admin.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: leaderElectionID}, lease)).To(Succeed())
		Expect(lease.Spec.HolderIdentity).NotTo(BeNil(), "the manager leads through the lease in its own namespace")

		Consistently(func(g Gomega) {
			bp := &staxv1alpha1.Blueprint{}
			g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: unwatched, Name: "payments-dev"}, bp)).To(Succeed())
			g.Expect(bp.Status.Conditions).To(BeEmpty())
			deployments := &appsv1.DeploymentList{}
			g.Expect(admin.List(ctx, deployments, client.InNamespace(unwatched))).To(Succeed())
			g.Expect(deployments.Items).To(BeEmpty())
			err := admin.Get(ctx, types.NamespacedName{Namespace: unwatched, Name: render.GeneratedSecretName("payments-dev")}, &corev1.Secret{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "generated Secret in %s: %v", unwatched, err)
			g.Expect(stopped).NotTo(Receive(), "the manager keeps running")
		}, "3s", "200ms").Should(Succeed())
	})
})
