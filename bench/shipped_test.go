package main

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
	"github.com/stax-dev/blueprint-operator/bench/internal/proc"
)

func TestCommitLabel(t *testing.T) {
	const head = "0123456789abcdef0123456789abcdef01234567\n"
	for _, tc := range []struct{ status, want string }{
		{"", "0123456789abcdef0123456789abcdef01234567"},
		{" M bench/results.json\n M README.md\n M bench/results.svg\n M dist/chart/values.yaml\n", "0123456789abcdef0123456789abcdef01234567"},
		{" M internal/controller/setup.go\n", "0123456789abcdef0123456789abcdef01234567-dirty"},
		{"M  README.md\nR  cmd/a.go -> cmd/b.go\n", "0123456789abcdef0123456789abcdef01234567-dirty"},
	} {
		if got := commitLabel(head, tc.status); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.status, got, tc.want)
		}
	}
	for c, want := range map[string]string{"": "not recorded", "0123456789abcdef-dirty": "0123456789ab-dirty", "abc": "abc"} {
		if got := shortCommit(c); got != want {
			t.Errorf("%q: %q, want %q", c, got, want)
		}
	}
}

func TestUnderLimit(t *testing.T) {
	limit := resource.MustParse("256Mi")
	if g := goMemLimit(limit); g != 241591910 {
		t.Errorf("GOMEMLIMIT %d", g)
	}
	u := newUnderLimit(limit, proc.RSSPeak{MaxSampledKiB: 200000, HWMKiB: 201000}, proc.RSSPeak{MaxSampledKiB: 270000, HWMKiB: 262144})
	if u.LimitKiB != 262144 || u.ConvergePeakKiB != 201000 || u.RestartPeakKiB != 270000 || !u.Exceeded {
		t.Errorf("%+v", u)
	}
	if u := newUnderLimit(limit, proc.RSSPeak{HWMKiB: 262144}, proc.RSSPeak{}); u.Exceeded {
		t.Errorf("at the limit exactly: %+v", u)
	}
}

func TestShippedLimitRow(t *testing.T) {
	under := func(n int, peak int64) curvePoint {
		p := samplePoint(n, "r", 1)
		p.UnderLimit = &underLimit{LimitKiB: 262144, ConvergePeakKiB: peak, RestartPeakKiB: peak - 1}
		p.UnderLimit.Exceeded = peak > 262144
		return p
	}
	for _, tc := range []struct {
		name   string
		points []curvePoint
		holds  bool
		limit  string
	}{
		{"under at 10000", []curvePoint{under(1000, 100000), under(10000, 200000)}, true, ""},
		{"over at 1000 only", []curvePoint{under(1000, 300000), under(10000, 200000)}, false, "memory: RSS above the shipped limit at 1000 Blueprints"},
		{"largest 1000", []curvePoint{under(100, 100000), under(1000, 200000)}, false, "not measured at 10,000"},
		{"10000 not watched", []curvePoint{under(1000, 100000), samplePoint(10000, "r", 1)}, false, "not measured under the shipped limit (-shipped-limit)"},
	} {
		if tc.name == "10000 not watched" {
			tc.points[1].UnderLimit = nil
		}
		x := shippedLimitRow(tc.points)
		if x.Holds != tc.holds || x.Limit != tc.limit {
			t.Errorf("%s: holds %v limit %q; want %v %q", tc.name, x.Holds, x.Limit, tc.holds, tc.limit)
		}
	}
}

func TestResyncRow(t *testing.T) {
	p := samplePoint(10000, "r", 1)
	for _, tc := range []struct {
		resync, floor float64
		holds         bool
	}{{20, 10, true}, {21, 10, false}, {20, 0, false}} {
		p.Restart.ResyncSeconds, p.Restart.ListFloorSeconds = tc.resync, tc.floor
		if x := resyncRow(p); x.Holds != tc.holds || (tc.floor == 0) != (x.Ratio == nil) {
			t.Errorf("%v s over %v s: %+v", tc.resync, tc.floor, x)
		}
	}
}

// TestResyncRowNamesTheReads: a resync over its target says what its reads
// alone cost against the list floor; one within it, or without a read
// floor, says nothing.
func TestResyncRowNamesTheReads(t *testing.T) {
	p := samplePoint(10000, "r", 1)
	p.Restart.ResyncSeconds, p.Restart.ListFloorSeconds = 40, 5
	p.Restart.ReadFloorSeconds, p.Restart.ReadFloorSecrets = 10, 20000
	want := "reading the 20000 Secrets again: list floor + read floor = 15.00 s, 3.00 times the list floor, before any reconcile work"
	if x := resyncRow(p); x.Holds || x.Limit != want {
		t.Errorf("over the target: holds %v, limit %q; want %q", x.Holds, x.Limit, want)
	}
	p.Restart.ResyncSeconds = 9
	if x := resyncRow(p); !x.Holds || x.Limit != "" {
		t.Errorf("within the target: holds %v, limit %q", x.Holds, x.Limit)
	}
	p.Restart.ResyncSeconds, p.Restart.ReadFloorSeconds = 40, 0
	if x := resyncRow(p); x.Holds || x.Limit != "" {
		t.Errorf("no read floor: holds %v, limit %q", x.Holds, x.Limit)
	}
}

// TestSecretsRead: each Secret read one by one, once, in the order first
// read; lists, other kinds, writes and subresources are not reads of one.
func TestSecretsRead(t *testing.T) {
	ev := func(verb, resource, sub, ns, name string) audit.Event {
		return audit.Event{Verb: verb, Resource: resource, Subresource: sub, Namespace: ns, Name: name}
	}
	got := secretsRead([]audit.Event{
		ev("get", "secrets", "", "a", "x"),
		ev("get", "secrets", "", "b", "x"),
		ev("get", "secrets", "", "a", "x"),
		ev("list", "secrets", "", "a", ""),
		ev("get", "serviceaccounts", "", "a", "x"),
		ev("patch", "secrets", "", "a", "y"),
		ev("get", "secrets", "status", "a", "z"),
		ev("get", "secrets", "", "a", "w"),
	})
	want := []types.NamespacedName{{Namespace: "a", Name: "x"}, {Namespace: "b", Name: "x"}, {Namespace: "a", Name: "w"}}
	if !slices.Equal(got, want) {
		t.Errorf("read %v, want %v", got, want)
	}
}

// TestCachedLists: every list the floor makes can be built, metadata-only
// ones as metadata.
func TestCachedLists(t *testing.T) {
	seen := map[string]bool{}
	for _, l := range cachedLists() {
		list, err := l.newList()
		if err != nil {
			t.Errorf("%s: %v", l.name, err)
			continue
		}
		_, isMeta := list.(*metav1.PartialObjectMetadataList)
		if isMeta != l.metadata || (isMeta && list.GetObjectKind().GroupVersionKind().Kind != l.gvk.Kind+"List") {
			t.Errorf("%s: %T", l.name, list)
		}
		seen[l.name] = true
	}
	if len(seen) != 9 {
		t.Errorf("lists %v", seen)
	}
}
