// Package containerenv computes the environment a container gets from its
// rendered env list, as kubelet computes it: secretKeyRefs read, and every
// literal value expanded with kubelet's dependent-variable rules. It is how
// `kubectl blueprint run` gives a local process exactly what the service's
// container would see, and how tests check what a rendered container gets.
package containerenv

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Expand applies kubelet's expansion of dependent environment variables
// (the rules of k8s.io/kubernetes/third_party/forked/golang/expansion,
// written anew here because k8s.io/kubernetes is not meant to be imported):
// $$ is a literal $, $(NAME) is NAME's value when lookup knows NAME and stays
// $(NAME) otherwise, an unterminated $( stays as written, and any other $ is
// literal.
func Expand(s string, lookup func(name string) (string, bool)) string {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			out.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			out.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				out.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				out.WriteString(v)
			} else {
				out.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			out.WriteByte('$')
		}
	}
	return out.String()
}

// SecretReader returns key of Secret name, or an error that names what is
// missing (a Secret, a key, a permission).
type SecretReader func(name, key string) (string, error)

// Var is one variable of a container's environment.
type Var struct {
	Name  string
	Value string
	// From is the Secret key the whole value was read from ("NAME/KEY"),
	// empty for a literal or an expanded string.
	From string
}

// Resolve returns the environment of a container with env, in order: a
// secretKeyRef is read through read, a literal is expanded against the
// variables defined before it (kubelet's order rule). Other valueFrom
// sources (fields, resources, ConfigMaps) are not rendered by the operator
// and are refused.
func Resolve(env []corev1.EnvVar, read SecretReader) ([]Var, error) {
	defined := map[string]string{}
	lookup := func(name string) (string, bool) { v, ok := defined[name]; return v, ok }
	vars := make([]Var, 0, len(env))
	for _, e := range env {
		v := Var{Name: e.Name}
		switch {
		case e.ValueFrom == nil:
			v.Value = Expand(e.Value, lookup)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			value, err := read(ref.Name, ref.Key)
			if err != nil {
				return nil, err
			}
			v.Value, v.From = value, ref.Name+"/"+ref.Key
		default:
			return nil, fmt.Errorf("variable %s takes its value from a source other than a Secret key, which cannot be read outside the pod", e.Name)
		}
		defined[e.Name] = v.Value
		vars = append(vars, v)
	}
	return vars, nil
}
