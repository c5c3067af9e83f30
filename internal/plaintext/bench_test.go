package plaintext

import (
	"testing"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// BenchmarkService scans the README's api service (three env values, one
// composed with a reference), as every reconcile does: the guard's cost per
// reconcile of such a service.
func BenchmarkService(b *testing.B) {
	svc := &staxv1alpha1.BlueprintService{Name: "api", Env: map[string]staxv1alpha1.EnvValue{
		"DATABASE_URL": "postgres://postgres:${secret:db-password}@db:5432/payments",
		"STRIPE_KEY":   "${secret:stripe/api-key}",
		"LOG_LEVEL":    "info",
	}}
	Service(svc, nil) // load gitleaks' rules outside the timing
	b.ReportAllocs()
	for b.Loop() {
		if len(Service(svc, nil)) != 0 {
			b.Fatal("the README's api service is flagged")
		}
	}
}
