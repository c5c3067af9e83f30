package main

import (
	"slices"
	"strings"
	"testing"
)

func TestPlanRun(t *testing.T) {
	for _, tc := range []struct {
		scenarios string
		sizes     []int
		// peer and curve: planned; hosted: the host scenarios' names in
		// order; host: their size; err: a part of the error, "" for none.
		peer, curve bool
		hosted      []string
		host        int
		err         string
	}{
		{scenarios: "peer,curve,latency,shared,memory", sizes: []int{100, 1000}, peer: true, curve: true, hosted: []string{"latency", "shared", "memory"}, host: 1000},
		{scenarios: "peer,curve,latency,shared,hostile,memory", sizes: []int{10, 20}, peer: true, curve: true, hosted: []string{"latency", "shared", "hostile", "memory"}, host: 20},
		{scenarios: "curve", sizes: []int{10000}, curve: true, host: 0},
		{scenarios: "memory,latency", sizes: []int{10, 20, 5000}, hosted: []string{"memory", "latency"}, host: 20},
		{scenarios: "latency", sizes: []int{10000}, err: "has none"},
		{scenarios: "convergence", sizes: []int{100}, err: "now part of 'curve'"},
		{scenarios: "curve,typo", sizes: []int{100}, err: `no scenario "typo"`},
	} {
		t.Run(tc.scenarios, func(t *testing.T) {
			p, err := planRun(config{scenarios: tc.scenarios, sizes: tc.sizes})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var hosted []string
			for _, s := range p.hosted {
				hosted = append(hosted, s.name())
			}
			if (p.peer != nil) != tc.peer || (p.curve != nil) != tc.curve || !slices.Equal(hosted, tc.hosted) || p.host != tc.host {
				t.Errorf("plan: peer %v curve %v hosted %v at %d; want peer %v curve %v hosted %v at %d",
					p.peer != nil, p.curve != nil, hosted, p.host, tc.peer, tc.curve, tc.hosted, tc.host)
			}
		})
	}
}
