package containerenv

import (
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "x"},
		{"pre-$(A)-post", "pre-x-post"},
		{"$$(A)", "$(A)"},
		{"$$", "$"},
		{"$$$$", "$$"},
		{"$(UNDEFINED)", "$(UNDEFINED)"},
		{"$(EMPTY)", ""},
		{"$(A", "$(A"},
		{"cost $5", "cost $5"},
		{"$", "$"},
		{"a$", "a$"},
		{"${A}", "${A}"},
		{"$(A)$(A)", "xx"},
	} {
		if got := Expand(tc.in, lookup); got != tc.want {
			t.Errorf("Expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestResolve(t *testing.T) {
	secrets := map[string]string{"db/password": "s3cr3t-value", "gen/token": "t0ken"}
	read := func(name, key string) (string, error) {
		if v, ok := secrets[name+"/"+key]; ok {
			return v, nil
		}
		return "", errors.New("missing " + name + "/" + key)
	}
	ref := func(name, key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
	}
	// kubelet expands a value only against variables defined before it.
	env := []corev1.EnvVar{
		{Name: "EARLY", Value: "$(STAX_REF_1)"},
		{Name: "STAX_REF_1", ValueFrom: ref("db", "password")},
		{Name: "URL", Value: "postgres://u:$(STAX_REF_1)@db/x?cost=$$5"},
		{Name: "TOKEN", ValueFrom: ref("gen", "token")},
	}
	got, err := Resolve(env, read)
	if err != nil {
		t.Fatal(err)
	}
	want := []Var{
		{Name: "EARLY", Value: "$(STAX_REF_1)"},
		{Name: "STAX_REF_1", Value: "s3cr3t-value", From: "db/password"},
		{Name: "URL", Value: "postgres://u:s3cr3t-value@db/x?cost=$5"},
		{Name: "TOKEN", Value: "t0ken", From: "gen/token"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %+v\nwant %+v", got, want)
	}

	if _, err := Resolve([]corev1.EnvVar{{Name: "X", ValueFrom: ref("nope", "k")}}, read); err == nil || err.Error() != "missing nope/k" {
		t.Errorf("a missing Secret key: err = %v, want the reader's error", err)
	}
	field := []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	if _, err := Resolve(field, read); err == nil {
		t.Error("a fieldRef was resolved; want an error: it exists only inside a pod")
	}
}
