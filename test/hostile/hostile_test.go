// Package hostile runs the corpus of invalid Blueprints in cases/ against a
// real API server and the operator. Each case file says how its Blueprint
// must fail:
//
//	# via: admission                 refused by the CRD's schema or CEL rules
//	# via: status <Reason>            accepted, then Ready=False with <Reason>
//	# via: update                     the file's first Blueprint is created, its
//	                                  second (the same Blueprint, edited) is
//	                                  refused as an update: a CEL transition
//	                                  rule, which only an update runs and the
//	                                  offline validator cannot (it accepts the
//	                                  edited Blueprint on its own)
//	# expect: <text>                  (one or more) text the error or the
//	                                  Ready message must contain
//	# offline: <text>                 (admission cases, optional) text only
//	                                  the offline validator adds: the
//	                                  offending value, where the CEL cost
//	                                  budget keeps admission's message static
//
// Objects before the Blueprint in the file (a foreign Deployment, a
// service-account token Secret, ...) are created first, in the same
// namespace. Every admission case must also be refused by the offline
// validator (kubectl blueprint validate) with the same messages, so the
// plugin and the API server agree.
package hostile

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/controller"
	"github.com/stax-dev/blueprint-operator/internal/validate"
)

const timeout = 30 * time.Second

type hostileCase struct {
	file      string
	raw       []byte
	via       string // "admission" or "status"
	reason    string // for via status
	expects   []string
	offline   []string
	given     []*unstructured.Unstructured
	blueprint *unstructured.Unstructured
	original  *unstructured.Unstructured // for via update: created first
}

var (
	testEnv   *envtest.Environment
	k8sClient client.Client
	stop      context.CancelFunc
)

func TestHostile(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Hostile input corpus")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(staxv1alpha1.AddToScheme(scheme))
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "start envtest; run through 'make test', which provides KUBEBUILDER_ASSETS")
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, controller.DefaultOptions().ManagerOptions(ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	}))
	Expect(err).NotTo(HaveOccurred())
	var ctx context.Context
	ctx, stop = context.WithCancel(context.Background())
	Expect(controller.Setup(ctx, mgr, controller.DefaultOptions())).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if stop != nil {
		stop()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

func loadCases() []hostileCase {
	files, err := filepath.Glob(filepath.Join("cases", "*.yaml"))
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("no cases found: %v", err))
	}
	sort.Strings(files)
	var out []hostileCase
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			panic(err)
		}
		c := hostileCase{file: f, raw: raw}
		for _, line := range strings.Split(string(raw), "\n") {
			switch {
			case strings.HasPrefix(line, "# via: "):
				fields := strings.Fields(strings.TrimPrefix(line, "# via: "))
				c.via = fields[0]
				if len(fields) > 1 {
					c.reason = fields[1]
				}
			case strings.HasPrefix(line, "# expect: "):
				c.expects = append(c.expects, strings.TrimPrefix(line, "# expect: "))
			case strings.HasPrefix(line, "# offline: "):
				c.offline = append(c.offline, strings.TrimPrefix(line, "# offline: "))
			}
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := decoder.Decode(&obj.Object); err != nil {
				break
			}
			if obj.GetKind() == "Blueprint" {
				if c.blueprint != nil {
					c.original = c.blueprint
				}
				c.blueprint = obj
			} else if len(obj.Object) > 0 {
				c.given = append(c.given, obj)
			}
		}
		if c.blueprint == nil || len(c.expects) == 0 || (c.via != "admission" && c.via != "status" && c.via != "update") ||
			(c.via == "update") != (c.original != nil) {
			panic(fmt.Sprintf("%s: needs a Blueprint (two for via update), '# via: admission|status <Reason>|update' and '# expect:' lines", f))
		}
		out = append(out, c)
	}
	return out
}

var _ = Describe("The hostile input corpus", func() {
	cases := loadCases()

	It("has at least 50 cases", func() {
		Expect(len(cases)).To(BeNumerically(">=", 50))
	})

	for _, c := range cases {
		It(fmt.Sprintf("refuses %s", filepath.Base(c.file)), func(ctx SpecContext) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "hostile-"}}
			Expect(k8sClient.Create(ctx, ns)).To(Succeed())
			for _, g := range c.given {
				g = g.DeepCopy()
				g.SetNamespace(ns.Name)
				Expect(k8sClient.Create(ctx, g)).To(Succeed(), "creating the case's %s", g.GetKind())
			}
			bp := c.blueprint.DeepCopy()
			bp.SetNamespace(ns.Name)
			if c.via == "update" {
				original := c.original.DeepCopy()
				original.SetNamespace(ns.Name)
				Expect(k8sClient.Create(ctx, original)).To(Succeed(), "the Blueprint before the edit is valid")
				// The edited Blueprint is valid on its own: what refuses it
				// is the transition.
				edited, err := yaml.Marshal(c.blueprint.Object)
				Expect(err).NotTo(HaveOccurred())
				results, err := validate.Documents(ctx, bytes.NewReader(edited))
				Expect(err).NotTo(HaveOccurred())
				Expect(results).To(HaveLen(1))
				Expect(results[0].Problems).To(BeEmpty(), "the edited Blueprint is refused on its own, not as an update")
				// The operator writes status meanwhile: retry on conflict.
				Eventually(func() bool {
					current := &unstructured.Unstructured{}
					current.SetGroupVersionKind(original.GroupVersionKind())
					Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(original), current)).To(Succeed())
					bp.SetResourceVersion(current.GetResourceVersion())
					err = k8sClient.Update(ctx, bp)
					return apierrors.IsConflict(err)
				}, timeout, 100*time.Millisecond).Should(BeFalse())
				Expect(err).To(HaveOccurred(), "the API server accepted the update")
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), err.Error())
				for _, e := range c.expects {
					Expect(err.Error()).To(ContainSubstring(e))
				}
				return
			}
			err := k8sClient.Create(ctx, bp)

			if c.via == "admission" {
				Expect(err).To(HaveOccurred(), "the API server accepted it")
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), err.Error())
				for _, e := range c.expects {
					Expect(err.Error()).To(ContainSubstring(e))
				}
				// The offline validator must point at the same fields as the
				// API server, not merely find some problem.
				var status apierrors.APIStatus
				Expect(errors.As(err, &status)).To(BeTrue())
				serverFields := map[string]bool{}
				if details := status.Status().Details; details != nil {
					for _, cause := range details.Causes {
						// A cause about the whole object (a rule on the root,
						// "rules were not checked") has no path, which the
						// API server spells <nil> and the validator "".
						serverFields[strings.TrimPrefix(cause.Field, "<nil>")] = true
					}
				}
				Expect(serverFields).NotTo(BeEmpty(), "the API server named no field: %v", err)
				results, verr := validate.Documents(ctx, bytes.NewReader(c.raw))
				Expect(verr).NotTo(HaveOccurred())
				validatorFields := map[string][]string{}
				var offline []string
				for _, r := range results {
					for _, p := range r.Problems {
						validatorFields[p.Field] = append(validatorFields[p.Field], p.Message)
						offline = append(offline, p.Field+": "+p.Message)
					}
				}
				Expect(offline).NotTo(BeEmpty(), "kubectl blueprint validate accepts what the API server refuses")
				for field := range serverFields {
					Expect(validatorFields).To(HaveKey(field), "the API server refuses %s; kubectl blueprint validate reports %v", field, validatorFields)
				}
				report := strings.Join(offline, "\n")
				for _, e := range append(append([]string{}, c.expects...), c.offline...) {
					Expect(report).To(ContainSubstring(e), "kubectl blueprint validate does not say what the API server says")
				}
				return
			}

			Expect(err).NotTo(HaveOccurred(), "admission refused a case meant for the reconciler")
			Eventually(func(g Gomega) {
				current := &staxv1alpha1.Blueprint{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bp), current)).To(Succeed())
				ready := meta.FindStatusCondition(current.Status.Conditions, staxv1alpha1.ConditionReady)
				g.Expect(ready).NotTo(BeNil())
				g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(ready.Reason).To(Equal(c.reason))
				for _, e := range c.expects {
					g.Expect(ready.Message).To(ContainSubstring(e))
				}
				// kstatus: a Blueprint that is not Ready is either Stalled
				// (a person must act) or Reconciling, for the same reason
				// (which of the two, per reason, is held to the docs by
				// internal/examples TestReasonsStallAsDocumented).
				var abnormal []string
				for _, t := range []string{staxv1alpha1.ConditionStalled, staxv1alpha1.ConditionReconciling} {
					if cond := meta.FindStatusCondition(current.Status.Conditions, t); cond != nil && cond.Status == metav1.ConditionTrue {
						g.Expect(cond.Reason).To(Equal(c.reason), "%s=True with another reason than Ready's", t)
						abnormal = append(abnormal, t)
					}
				}
				g.Expect(abnormal).To(HaveLen(1), "want exactly one of Stalled and Reconciling True")
			}, timeout, 100*time.Millisecond).Should(Succeed())
			for _, g := range c.given {
				live := g.DeepCopy()
				live.SetNamespace(ns.Name)
				Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(live), live)).To(Succeed())
				Expect(live.GetOwnerReferences()).To(BeEmpty(), "a foreign %s was adopted", live.GetKind())
			}
		})
	}

	It("refuses a 1 MiB env map", func(ctx SpecContext) {
		env := map[string]staxv1alpha1.EnvValue{}
		filler := make([]byte, 16*1024)
		_, _ = rand.Read(filler)
		for i := range 64 {
			env[fmt.Sprintf("K%02d", i)] = staxv1alpha1.EnvValue(fmt.Sprintf("%x", filler)[:16*1024])
		}
		bp := &staxv1alpha1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "huge", Namespace: "default"},
			Spec: staxv1alpha1.BlueprintSpec{Services: []staxv1alpha1.BlueprintService{{
				Name: "app", Image: "busybox", Env: env,
			}}},
		}
		err := k8sClient.Create(ctx, bp)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.services[0].env.K00: Too long: may not be more than 512 bytes"))
	})
})
