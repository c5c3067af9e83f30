// Package depgraph reasons about the dependsOn graph of a Blueprint's
// services. It is pure and shared by the controller and the kubectl plugin,
// so both report a cycle the same way.
package depgraph

import (
	"sort"
	"strings"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
)

// Cycle returns one dependency cycle among services, spelled from its
// smallest name back to itself (["a", "b", "a"]), or nil when there is none.
// Unknown names are ignored: admission rejects them.
func Cycle(services []staxv1alpha1.BlueprintService) []string {
	deps := map[string][]string{}
	names := make([]string, 0, len(services))
	for _, s := range services {
		names = append(names, s.Name)
		deps[s.Name] = append([]string(nil), s.DependsOn...)
		sort.Strings(deps[s.Name])
	}
	sort.Strings(names)

	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var found []string
	var visit func(string) bool
	visit = func(n string) bool {
		state[n] = onPath
		path = append(path, n)
		for _, d := range deps[n] {
			if _, known := deps[d]; !known {
				continue
			}
			switch state[d] {
			case onPath:
				start := 0
				for i, p := range path {
					if p == d {
						start = i
					}
				}
				found = rotateToSmallest(append([]string(nil), path[start:]...))
				return true
			case unvisited:
				if visit(d) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return false
	}
	for _, n := range names {
		if state[n] == unvisited && visit(n) {
			return found
		}
	}
	return nil
}

// rotateToSmallest starts the cycle at its smallest name, so the same cycle
// is always reported the same way, and closes it.
func rotateToSmallest(cycle []string) []string {
	min := 0
	for i, n := range cycle {
		if n < cycle[min] {
			min = i
		}
	}
	out := append(append([]string(nil), cycle[min:]...), cycle[:min]...)
	return append(out, out[0])
}

// Format spells a cycle as "a -> b -> a".
func Format(cycle []string) string {
	return strings.Join(cycle, " -> ")
}
