// Package faultproxy is a test-only HTTP proxy in front of a Kubernetes API
// server that injects the failures a controller meets in production: 409
// conflicts, 429s, 500s, connections dropped before or after the server
// handled a request, slow responses, and watch streams cut mid-stream.
//
// The client (the manager under test) talks plain HTTP to 127.0.0.1 without
// credentials; the proxy forwards with the upstream rest.Config's transport,
// which adds TLS and the credentials. Faults are chosen with a seeded
// pseudo-random sequence (splitmix64, below), so a failing run can be
// repeated with its seed. It is deliberately not math/rand: the project keeps
// that package out of every non-test file, so a reviewer can grep for it.
package faultproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Fault is what the proxy did to one request.
type Fault string

const (
	// None: forwarded untouched.
	None Fault = "none"
	// Conflict: a write answered 409 Conflict without being forwarded.
	Conflict Fault = "conflict"
	// TooManyRequests: 429 without being forwarded; some carry Retry-After.
	TooManyRequests Fault = "429"
	// InternalError: 500 without being forwarded.
	InternalError Fault = "500"
	// DropBefore: the connection is closed before the request is forwarded.
	DropBefore Fault = "drop-before"
	// DropAfter: the request is forwarded and handled by the API server, then
	// the connection is closed without a response: a write took effect and
	// the client does not know.
	DropAfter Fault = "drop-after"
	// Slow: the request is forwarded after a delay.
	Slow Fault = "slow"
	// WatchCut: a watch is forwarded and its stream is cut after a random
	// time, so the client's informer must watch (or list) again.
	WatchCut Fault = "watch-cut"
	// WatchExpired: a watch is answered with a single ERROR event, 410
	// Expired, as the API server does when the requested resourceVersion is
	// compacted away: the client must list again.
	WatchExpired Fault = "watch-expired"
	// Aborted: the Hook asked for the request to be dropped.
	Aborted Fault = "aborted"
)

// Stage tells a Hook where a request is.
type Stage int

const (
	// Received: the request arrived and nothing was forwarded yet.
	Received Stage = iota
	// Responded: the API server answered (a write has taken effect); the
	// client has not seen the answer yet.
	Responded
)

// Hook observes requests. Returning true drops the connection at that
// stage: before forwarding (Received) or instead of relaying the answer
// (Responded). Hooks run on the request's goroutine and may block.
type Hook func(r *http.Request, stage Stage) (drop bool)

// Config configures a Proxy.
type Config struct {
	// Upstream is the API server and the identity the proxy forwards with.
	Upstream *rest.Config
	// Rate is the probability that a request gets a fault, 0 to 1.
	Rate float64
	// Seed seeds the fault choice.
	Seed int64
	// SlowMin and SlowMax bound the delay of a slow response (default
	// 50ms-500ms).
	SlowMin, SlowMax time.Duration
	// WatchCutMax: while Rate > 0, every watch that is not refused outright
	// is cut after a uniform random time in (0, WatchCutMax] (default 10s).
	WatchCutMax time.Duration
	// Hook, if set, sees every request at both stages.
	Hook Hook
}

// Proxy is a running fault proxy.
type Proxy struct {
	cfg      Config
	listener net.Listener
	server   *http.Server
	proxy    *httputil.ReverseProxy

	mu   sync.Mutex
	rnd  *splitmix64
	rate float64
	hook Hook

	requests atomic.Int64
	counts   sync.Map // Fault -> *atomic.Int64
}

type faultKey struct{}

// Start listens on 127.0.0.1 on a free port and serves until Close.
func Start(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil {
		return nil, errors.New("faultproxy: no upstream config")
	}
	if cfg.SlowMax == 0 {
		cfg.SlowMin, cfg.SlowMax = 50*time.Millisecond, 500*time.Millisecond
	}
	if cfg.WatchCutMax == 0 {
		cfg.WatchCutMax = 10 * time.Second
	}
	target, err := url.Parse(cfg.Upstream.Host)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: upstream host: %w", err)
	}
	transport, err := rest.TransportFor(cfg.Upstream)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: upstream transport: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg, listener: l, rnd: &splitmix64{state: uint64(cfg.Seed)}, rate: cfg.Rate, hook: cfg.Hook}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The proxy's transport authenticates; nothing the client sends
			// may stand in for it.
			pr.Out.Header.Del("Authorization")
		},
		Transport:      transport,
		FlushInterval:  -1, // watch events reach the client as they come
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	p.server = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = p.server.Serve(l) }()
	return p, nil
}

// URL is where clients reach the proxy.
func (p *Proxy) URL() string { return "http://" + p.listener.Addr().String() }

// Kubeconfig is a kubeconfig for the proxy: no credentials, plain HTTP.
func (p *Proxy) Kubeconfig() ([]byte, error) {
	c := clientcmdapi.NewConfig()
	c.Clusters["faultproxy"] = &clientcmdapi.Cluster{Server: p.URL()}
	c.AuthInfos["faultproxy"] = &clientcmdapi.AuthInfo{}
	c.Contexts["faultproxy"] = &clientcmdapi.Context{Cluster: "faultproxy", AuthInfo: "faultproxy"}
	c.CurrentContext = "faultproxy"
	return clientcmd.Write(*c)
}

// SetRate changes the fault rate of requests from now on.
func (p *Proxy) SetRate(rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = rate
}

// SetHook replaces the hook.
func (p *Proxy) SetHook(h Hook) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = h
}

// Requests is how many requests the proxy received.
func (p *Proxy) Requests() int64 { return p.requests.Load() }

// Stats counts requests per fault.
func (p *Proxy) Stats() map[Fault]int64 {
	out := map[Fault]int64{}
	p.counts.Range(func(k, v any) bool {
		out[k.(Fault)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// Close stops listening and drops every open connection, watches included.
func (p *Proxy) Close() error {
	return p.server.Close()
}

func (p *Proxy) count(f Fault) {
	v, _ := p.counts.LoadOrStore(f, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// IsWatch reports whether r is a watch: a long-running streaming request.
func IsWatch(r *http.Request) bool {
	w := r.URL.Query().Get("watch")
	return w == "true" || w == "1"
}

// IsWrite reports whether r may change state on the server.
func IsWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

type decision struct {
	fault      Fault
	delay      time.Duration // Slow: before forwarding; WatchCut: lifetime
	retryAfter bool
}

func (p *Proxy) decide(r *http.Request) (decision, Hook) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rate <= 0 {
		return decision{fault: None}, p.hook
	}
	faulted := p.rnd.Float64() < p.rate
	var d decision
	switch {
	case IsWatch(r):
		if faulted {
			d.fault = []Fault{TooManyRequests, InternalError, DropBefore, WatchExpired}[p.rnd.Intn(4)]
		} else {
			d.fault = WatchCut
			d.delay = time.Duration(1 + p.rnd.Int63n(int64(p.cfg.WatchCutMax)))
		}
	case !faulted:
		d.fault = None
	case IsWrite(r):
		d.fault = []Fault{Conflict, TooManyRequests, InternalError, DropBefore, DropAfter, Slow}[p.rnd.Intn(6)]
	default:
		d.fault = []Fault{TooManyRequests, InternalError, DropBefore, DropAfter, Slow}[p.rnd.Intn(5)]
	}
	switch d.fault {
	case Slow:
		d.delay = p.cfg.SlowMin + time.Duration(p.rnd.Int63n(int64(p.cfg.SlowMax-p.cfg.SlowMin)+1))
	case TooManyRequests:
		// The API server's priority and fairness sends Retry-After, which
		// client-go honours by retrying; without it the error reaches the
		// controller. Exercise both.
		d.retryAfter = p.rnd.Intn(2) == 0
	}
	return d, p.hook
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	d, hook := p.decide(r)
	if hook != nil && hook(r, Received) {
		p.count(Aborted)
		panic(http.ErrAbortHandler)
	}
	p.count(d.fault)
	switch d.fault {
	case Conflict:
		writeStatus(w, http.StatusConflict, "Conflict", "faultproxy: injected conflict: the object has been modified; please apply your changes to the latest version and try again")
		return
	case TooManyRequests:
		if d.retryAfter {
			w.Header().Set("Retry-After", "1")
		}
		writeStatus(w, http.StatusTooManyRequests, "TooManyRequests", "faultproxy: injected throttling, please try again later")
		return
	case InternalError:
		writeStatus(w, http.StatusInternalServerError, "InternalError", "faultproxy: injected internal error")
		return
	case DropBefore:
		// net/http closes the connection and logs nothing.
		panic(http.ErrAbortHandler)
	case WatchExpired:
		status, _ := json.Marshal(map[string]any{
			"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
			"status": "Failure", "message": "faultproxy: too old resource version", "reason": "Expired", "code": http.StatusGone,
		})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprintf(w, `{"type":"ERROR","object":%s}`+"\n", status)
		return
	case Slow:
		select {
		case <-time.After(d.delay):
		case <-r.Context().Done():
			return
		}
	}
	ctx := context.WithValue(r.Context(), faultKey{}, &requestState{decision: d, hook: hook})
	p.proxy.ServeHTTP(w, r.WithContext(ctx))
}

type requestState struct {
	decision decision
	hook     Hook
}

var errDrop = errors.New("faultproxy: dropping the response")

func (p *Proxy) modifyResponse(resp *http.Response) error {
	st, _ := resp.Request.Context().Value(faultKey{}).(*requestState)
	if st == nil {
		return nil
	}
	if st.hook != nil && st.hook(resp.Request, Responded) {
		p.count(Aborted)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return errDrop
	}
	switch st.decision.fault {
	case DropAfter:
		// Let the server finish, then hang up on the client.
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return errDrop
	case WatchCut:
		if resp.StatusCode == http.StatusOK {
			resp.Body = newCutBody(resp.Body, st.decision.delay)
		}
	}
	return nil
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errDrop) || r.Context().Err() != nil {
		panic(http.ErrAbortHandler)
	}
	writeStatus(w, http.StatusBadGateway, "InternalError", "faultproxy: upstream: "+err.Error())
}

// cutBody fails reads once its lifetime is over. ReverseProxy then aborts
// the client connection mid-stream (http.ErrAbortHandler), as a dying load
// balancer or API server would.
type cutBody struct {
	io.ReadCloser
	timer *time.Timer
	cut   atomic.Bool
}

func newCutBody(body io.ReadCloser, after time.Duration) *cutBody {
	b := &cutBody{ReadCloser: body}
	b.timer = time.AfterFunc(after, func() {
		b.cut.Store(true)
		_ = body.Close() // unblocks a pending Read
	})
	return b
}

func (b *cutBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.cut.Load() {
		return 0, errors.New("faultproxy: watch cut")
	}
	return n, err
}

func (b *cutBody) Close() error {
	b.timer.Stop()
	return b.ReadCloser.Close()
}

func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	body, _ := json.Marshal(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": message, "reason": reason, "code": code,
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

// splitmix64 is a small seeded pseudo-random generator for fault selection.
// Not for secrets: it is predictable by design.
type splitmix64 struct{ state uint64 }

func (r *splitmix64) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float64 returns a number in [0, 1).
func (r *splitmix64) Float64() float64 { return float64(r.next()>>11) / (1 << 53) }

// Int63n returns a number in [0, n); n must be positive.
func (r *splitmix64) Int63n(n int64) int64 { return int64(r.next()>>1) % n }

// Intn returns a number in [0, n); n must be positive.
func (r *splitmix64) Intn(n int) int { return int(r.Int63n(int64(n))) }
