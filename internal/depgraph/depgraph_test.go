package depgraph

import (
	"reflect"
	"testing"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

func svc(name string, deps ...string) staxv1alpha1.BlueprintService {
	return staxv1alpha1.BlueprintService{Name: name, DependsOn: deps}
}

func TestCycle(t *testing.T) {
	cases := map[string]struct {
		services []staxv1alpha1.BlueprintService
		want     []string
	}{
		"no dependencies":    {services: []staxv1alpha1.BlueprintService{svc("a"), svc("b")}},
		"a chain":            {services: []staxv1alpha1.BlueprintService{svc("api", "db"), svc("db"), svc("web", "api")}},
		"a diamond":          {services: []staxv1alpha1.BlueprintService{svc("a", "b", "c"), svc("b", "d"), svc("c", "d"), svc("d")}},
		"self":               {services: []staxv1alpha1.BlueprintService{svc("a", "a")}, want: []string{"a", "a"}},
		"two services":       {services: []staxv1alpha1.BlueprintService{svc("b", "a"), svc("a", "b")}, want: []string{"a", "b", "a"}},
		"three, from middle": {services: []staxv1alpha1.BlueprintService{svc("c", "a"), svc("b", "c"), svc("a", "b")}, want: []string{"a", "b", "c", "a"}},
		"cycle behind a tail": {
			services: []staxv1alpha1.BlueprintService{svc("web", "x"), svc("x", "y"), svc("y", "z"), svc("z", "x")},
			want:     []string{"x", "y", "z", "x"},
		},
		"unknown names ignored": {services: []staxv1alpha1.BlueprintService{svc("a", "ghost")}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Cycle(tc.services)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Cycle() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	if got := Format([]string{"a", "b", "a"}); got != "a -> b -> a" {
		t.Fatalf("Format() = %q", got)
	}
}
