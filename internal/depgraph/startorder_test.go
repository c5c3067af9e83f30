package depgraph

import (
	"reflect"
	"testing"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

func TestStartOrder(t *testing.T) {
	// api -> db, worker -> api and db, cache stands alone.
	services := []staxv1alpha1.BlueprintService{
		{Name: "db"},
		{Name: "api", DependsOn: []string{"db"}},
		{Name: "worker", DependsOn: []string{"api", "db"}},
		{Name: "cache"},
	}
	set := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	tests := map[string]struct {
		services           []staxv1alpha1.BlueprintService // nil: the four above
		available, started map[string]bool
		want               Held
	}{
		"nothing runs yet: every dependent waits for all it needs": {
			want: Held{"api": {"db"}, "worker": {"api", "db"}},
		},
		"db available: api starts, worker still waits for api": {
			available: set("db"), started: set("db"),
			want: Held{"worker": {"api"}},
		},
		"everything available: nobody waits": {
			available: set("db", "api", "worker", "cache"), started: set("db", "api", "worker", "cache"),
			want: Held{},
		},
		"a started service is never held back while a dependency rolls out": {
			available: set("api"), started: set("db", "api", "worker"),
			want: Held{},
		},
		"a service that has not started waits even if its dependency started": {
			started: set("db"),
			want:    Held{"api": {"db"}, "worker": {"api", "db"}},
		},
		"unknown dependencies are ignored": {
			services: []staxv1alpha1.BlueprintService{{Name: "api", DependsOn: []string{"ghost"}}},
			want:     Held{},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			svcs := services
			if tt.services != nil {
				svcs = tt.services
			}
			got := StartOrder(svcs, tt.available, tt.started)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("StartOrder = %v, want %v", got, tt.want)
			}
		})
	}
}
