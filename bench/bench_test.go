package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stax-dev/blueprint-operator/bench/internal/audit"
)

func TestKnobsFromHelp(t *testing.T) {
	help := `Usage of manager:
  -kube-api-burst int
    	Burst allowed above --kube-api-qps; 0 keeps client-go's default.
  -kube-api-qps float
    	Client-side rate limit on API requests per second; -1 disables it. (default -1)
  -max-concurrent-reconciles int
    	How many Blueprints are reconciled at once. (default 8)
`
	k, err := knobsFromHelp(help, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k.MaxConcurrentReconciles != 8 || k.KubeAPIQPS != -1 || k.KubeAPIBurst != 0 {
		t.Errorf("defaults: %+v", k)
	}
	k, err = knobsFromHelp(help, []string{"--max-concurrent-reconciles=2", "--kube-api-qps=20", "--kube-api-burst=30"})
	if err != nil {
		t.Fatal(err)
	}
	if k.MaxConcurrentReconciles != 2 || k.KubeAPIQPS != 20 || k.KubeAPIBurst != 30 {
		t.Errorf("flags: %+v", k)
	}
	if _, err := knobsFromHelp("Usage of manager:\n", nil); err == nil {
		t.Error("a manager without the knobs was accepted")
	}
}

func TestCountCreation(t *testing.T) {
	at := time.Now()
	ev := func(verb, resource, sub, name string, code int) audit.Event {
		at = at.Add(time.Millisecond)
		return audit.Event{User: userManager, Verb: verb, Resource: resource, Subresource: sub, Name: name, Code: code, Received: at}
	}
	objects := func(s string) []audit.Event {
		return []audit.Event{
			ev("create", "secrets", "", "bp-"+s+"-generated", 201),
			ev("patch", "deployments", "", "web-"+s, 201), ev("patch", "services", "", "web-"+s, 201),
		}
	}
	within := append(objects("0000"), ev("get", "secrets", "", "bp-0000-ref", 200), ev("patch", "blueprints", "status", "bp-0000", 200))
	within = append(within, ev("list", "secrets", "", "", 200))
	c := countCreation(within, 1)
	if !c.Holds || c.Objects.Max != 3 || c.StatusWrites.Max != 1 || c.Reads.Max != 1 || c.Unattributed != 1 {
		t.Errorf("objects + 1 status + 1 read: %+v", c)
	}
	if c := countCreation(within, 2); c.Holds {
		t.Error("a Blueprint never seen was not counted against the target")
	}
	for name, extra := range map[string][]audit.Event{
		"two status writes": {ev("patch", "blueprints", "status", "bp-0000", 200), ev("patch", "blueprints", "status", "bp-0000", 200)},
		"an Event":          {ev("patch", "blueprints", "status", "bp-0000", 200), ev("create", "events", "", "bp-0000.18a2f3c4d5e6f708", 201)},
		"a re-apply":        {ev("patch", "blueprints", "status", "bp-0000", 200), ev("patch", "deployments", "", "web-0000", 200)},
		"three reads":       {ev("get", "secrets", "", "bp-0000-ref", 200), ev("get", "secrets", "", "bp-0000-ref", 200), ev("get", "deployments", "", "web-0000", 404)},
	} {
		c := countCreation(append(objects("0000"), extra...), 1)
		if c.Holds {
			t.Errorf("%s: held: %+v", name, c)
		}
		if c.Objects.Max != 3 {
			t.Errorf("%s: objects %d", name, c.Objects.Max)
		}
	}
}

func TestBlueprintOfObject(t *testing.T) {
	for name, want := range map[string]string{
		"bp-0042": "0042", "bp-0042-generated": "0042", "web-0042": "0042", "bp-0042.18a2f3c4d5e6f708": "0042",
		"sh-s007": "s007", "web-s007": "s007", "bp-0042-ref": "0042",
	} {
		m := bpSuffix.FindStringSubmatch(name)
		if m == nil || m[1] != want {
			t.Errorf("%s: got %v, want %s", name, m, want)
		}
	}
	for _, name := range []string{"shared", "unrelated-00042", "kube-root-ca.crt"} {
		if m := bpSuffix.FindStringSubmatch(name); m != nil {
			t.Errorf("%s matched %v", name, m)
		}
	}
}

func TestAuditLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	lines := `{"kind":"Event","stage":"ResponseComplete","verb":"patch","user":{"username":"blueprint-operator"},"objectRef":{"resource":"deployments","namespace":"bp-00","name":"web-0001","apiGroup":"apps"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-01-01T00:00:01.000000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"get","user":{"username":"blueprint-operator"},"objectRef":{"resource":"secrets","namespace":"bp-00","name":"bp-0001-ref"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:02.000000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"create","user":{"username":"bench"},"objectRef":{"resource":"blueprints","namespace":"bp-00","name":"bp-0001"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-01-01T00:00:02.500000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"patch","user":{"username":"blueprint-operator"},"objectRef":{"resource":"blueprints","namespace":"bp-00","name":"bp-0001","subresource":"status"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:03.000000Z"}
{"kind":"Event","stage":"ResponseComplete","verb":"patch","user":{"username":"blueprint-operator"},"objectRef":{"resource":"blu`
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	l := audit.Open(path)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events, err := l.Between(userManager, from, from.Add(2500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s := audit.Summarize(events)
	if s.Requests != 2 || s.Writes != 1 || s.ByKind["patch(create) deployments"] != 1 || s.ByKind["get secrets"] != 1 {
		t.Errorf("summary %+v", s)
	}
	// The partial last line is read once it is complete.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`eprints","namespace":"bp-00","name":"bp-0001","subresource":"status"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:04.000000Z"}` + "\n")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	events, err = l.Between(userManager, from, from.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if s := audit.Summarize(events); s.ByKind["patch blueprints/status"] != 2 {
		t.Errorf("summary after append %+v", s)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(ds, 50); p != 50*time.Millisecond {
		t.Errorf("p50 %s", p)
	}
	if p := percentile(ds, 99); p != 99*time.Millisecond {
		t.Errorf("p99 %s", p)
	}
	if p := percentile(ds[:5], 99); p != 5*time.Millisecond {
		t.Errorf("p99 of 5 %s", p)
	}
}
