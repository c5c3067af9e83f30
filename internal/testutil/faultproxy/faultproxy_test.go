package faultproxy

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// upstream is a fake API server: it counts what reaches it, answers writes
// and reads with 200, and streams a watch event every 10ms.
func upstream(t *testing.T, received *atomic.Int64) *rest.Config {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		if r.Header.Get("Authorization") != "Bearer upstream-token" {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		if IsWatch(r) {
			w.Header().Set("Content-Type", "application/json")
			for {
				if _, err := io.WriteString(w, `{"type":"BOOKMARK"}`+"\n"); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"Status","status":"Success"}`)
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL, BearerToken: "upstream-token"}
}

func start(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if !strings.HasPrefix(p.URL(), "http://127.0.0.1:") {
		t.Fatalf("proxy listens on %s, want 127.0.0.1 only", p.URL())
	}
	return p
}

func TestForwardsWithUpstreamCredentialsOnly(t *testing.T) {
	var received atomic.Int64
	p := start(t, Config{Upstream: upstream(t, &received)})
	req, _ := http.NewRequest(http.MethodGet, p.URL()+"/api/v1/namespaces", nil)
	req.Header.Set("Authorization", "Bearer client-token") // must be replaced
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || received.Load() != 1 {
		t.Fatalf("status %d, upstream saw %d requests", resp.StatusCode, received.Load())
	}
}

func TestInjectsEveryFaultKindAtFullRate(t *testing.T) {
	var received atomic.Int64
	p := start(t, Config{Upstream: upstream(t, &received), Rate: 1, Seed: 1, SlowMin: time.Millisecond, SlowMax: 2 * time.Millisecond})
	client := &http.Client{Timeout: 5 * time.Second}
	codes := map[int]int{}
	transportErrors := 0
	for range 200 {
		req, _ := http.NewRequest(http.MethodPut, p.URL()+"/api/v1/namespaces/x/secrets/y", strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			transportErrors++
			continue
		}
		codes[resp.StatusCode]++
		resp.Body.Close()
	}
	stats := p.Stats()
	for _, f := range []Fault{Conflict, TooManyRequests, InternalError, DropBefore, DropAfter, Slow} {
		if stats[f] == 0 {
			t.Errorf("fault %s never injected: %v", f, stats)
		}
	}
	if stats[None] != 0 {
		t.Errorf("rate 1 forwarded %d requests untouched", stats[None])
	}
	// Only slow and drop-after requests reach the server.
	if got, want := received.Load(), stats[Slow]+stats[DropAfter]; got != want {
		t.Errorf("upstream saw %d requests, want %d (slow + drop-after)", got, want)
	}
	if transportErrors == 0 || codes[409] == 0 || codes[429] == 0 || codes[500] == 0 || codes[200] == 0 {
		t.Errorf("client saw codes %v and %d dropped connections", codes, transportErrors)
	}
}

func TestSameSeedSameFaults(t *testing.T) {
	run := func() map[Fault]int64 {
		var received atomic.Int64
		p := start(t, Config{Upstream: upstream(t, &received), Rate: 0.5, Seed: 42, SlowMin: time.Millisecond, SlowMax: 2 * time.Millisecond})
		for range 50 {
			resp, err := http.Get(p.URL() + "/api/v1/namespaces")
			if err == nil {
				resp.Body.Close()
			}
		}
		return p.Stats()
	}
	a, b := run(), run()
	for _, f := range []Fault{None, TooManyRequests, InternalError, DropBefore, DropAfter, Slow} {
		if a[f] != b[f] {
			t.Fatalf("seed 42 gave %v, then %v", a, b)
		}
	}
}

func TestCutsWatchesMidStream(t *testing.T) {
	var received atomic.Int64
	p := start(t, Config{Upstream: upstream(t, &received), Rate: 0.0001, Seed: 3, WatchCutMax: 300 * time.Millisecond})
	began := time.Now()
	resp, err := http.Get(p.URL() + "/api/v1/secrets?watch=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		events++
	}
	if sc.Err() == nil {
		t.Fatalf("watch ended cleanly after %d events; want an aborted stream", events)
	}
	if events == 0 || time.Since(began) > 2*time.Second {
		t.Fatalf("got %d events in %s before the cut", events, time.Since(began))
	}
	if p.Stats()[WatchCut] != 1 {
		t.Fatalf("stats %v", p.Stats())
	}
}

func TestExpiresWatches(t *testing.T) {
	var received atomic.Int64
	p := start(t, Config{Upstream: upstream(t, &received), Rate: 1, Seed: 7})
	expired := 0
	for range 40 {
		resp, err := http.Get(p.URL() + "/api/v1/secrets?watch=true&resourceVersion=5")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"type":"ERROR"`) && strings.Contains(string(body), `"code":410`) {
			expired++
		}
	}
	if expired == 0 || int64(expired) != p.Stats()[WatchExpired] || received.Load() != 0 {
		t.Fatalf("%d expired watches, stats %v, upstream saw %d", expired, p.Stats(), received.Load())
	}
}

func TestHookDropsBeforeAndAfterTheServer(t *testing.T) {
	var received atomic.Int64
	p := start(t, Config{Upstream: upstream(t, &received)})
	for _, stage := range []Stage{Received, Responded} {
		p.SetHook(func(r *http.Request, s Stage) bool { return s == stage && IsWrite(r) })
		before := received.Load()
		resp, err := http.Post(p.URL()+"/api/v1/namespaces/x/secrets", "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("stage %d: got a response, want a dropped connection", stage)
		}
		if reached := received.Load() - before; (stage == Received) != (reached == 0) {
			t.Fatalf("stage %d: upstream saw %d requests", stage, reached)
		}
	}
}
