// Package audit counts API requests on the API server's side, from
// kube-apiserver's audit log: every request of the users the policy names is
// logged once, at ResponseComplete, with its verb, resource and response code.
package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Policy logs every request of users at level Metadata (never a request or
// response body, so no Secret value reaches the log) and nothing else.
func Policy(users ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\nrules:\n")
	b.WriteString("- level: Metadata\n  users: [")
	for i, u := range users {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", u)
	}
	b.WriteString("]\n- level: None\n")
	return b.String()
}

// Event is the part of an audit event the bench uses.
type Event struct {
	User        string
	Verb        string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	Code        int
	Received    time.Time
}

// Write reports whether the request asked to change something.
func (e *Event) Write() bool {
	switch e.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// Created reports whether the request created an object: a create, or a
// server-side apply that created (201).
func (e *Event) Created() bool {
	return e.Code == 201 && (e.Verb == "create" || e.Verb == "patch" || e.Verb == "update")
}

// Kind names the request as verb resource[/subresource], e.g. "patch
// blueprints/status".
func (e *Event) Kind() string {
	r := e.Resource
	if e.Subresource != "" {
		r += "/" + e.Subresource
	}
	verb := e.Verb
	if e.Created() && verb != "create" {
		verb += "(create)"
	}
	return verb + " " + r
}

type rawEvent struct {
	Stage string `json:"stage"`
	Verb  string `json:"verb"`
	User  struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
}

// Log reads an audit log incrementally.
type Log struct {
	path   string
	mu     sync.Mutex
	offset int64
	events []Event
	// last is when each user's latest request was received.
	last map[string]time.Time
}

// Open returns a reader of the audit log at path.
func Open(path string) *Log {
	return &Log{path: path, last: map[string]time.Time{}}
}

// sync reads what the API server appended since the last call.
func (l *Log) sync() error {
	f, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(l.offset, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			// A partial line stays for the next read.
			return nil
		}
		if err != nil {
			return err
		}
		l.offset += int64(len(line))
		var raw rawEvent
		if err := json.Unmarshal(line, &raw); err != nil {
			return fmt.Errorf("audit log %s: %w", l.path, err)
		}
		if raw.Stage != "ResponseComplete" && raw.Stage != "Panic" {
			continue
		}
		e := Event{User: raw.User.Username, Verb: raw.Verb, Received: raw.RequestReceivedTimestamp}
		if raw.ObjectRef != nil {
			e.Resource, e.Subresource, e.Namespace, e.Name = raw.ObjectRef.Resource, raw.ObjectRef.Subresource, raw.ObjectRef.Namespace, raw.ObjectRef.Name
		}
		if raw.ResponseStatus != nil {
			e.Code = raw.ResponseStatus.Code
		}
		l.events = append(l.events, e)
		if e.Received.After(l.last[e.User]) {
			l.last[e.User] = e.Received
		}
	}
}

// WaitQuiet waits until user has sent no request for quiet, and returns
// how long that took.
func (l *Log) WaitQuiet(ctx context.Context, user string, quiet, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		l.mu.Lock()
		err := l.sync()
		last := l.last[user]
		l.mu.Unlock()
		if err != nil {
			return 0, err
		}
		// The API server logs a request as it answers it: allow for that.
		if time.Since(last) >= quiet && time.Since(start) >= 100*time.Millisecond {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("%s never went quiet for %s within %s", user, quiet, timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(quiet / 4):
		}
	}
}

// Between returns the requests of user received in [from, to). It waits a
// moment first: the API server logs a request just after answering it.
func (l *Log) Between(user string, from, to time.Time) ([]Event, error) {
	if d := time.Until(to.Add(500 * time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.sync(); err != nil {
		return nil, err
	}
	var out []Event
	for _, e := range l.events {
		if e.User == user && !e.Received.Before(from) && e.Received.Before(to) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Summary counts requests by kind.
type Summary struct {
	Requests int `json:"requests"`
	Writes   int `json:"writes"`
	// Failed counts requests answered with an error: 404s of reads that
	// check an object is absent included.
	Failed       int            `json:"failed"`
	FailedWrites int            `json:"failedWrites"`
	ByKind       map[string]int `json:"byKind"`
}

// Summarize counts events.
func Summarize(events []Event) Summary {
	s := Summary{ByKind: map[string]int{}}
	for _, e := range events {
		s.Requests++
		if e.Write() {
			s.Writes++
		}
		if e.Code >= 400 {
			s.Failed++
			if e.Write() {
				s.FailedWrites++
			}
		}
		s.ByKind[e.Kind()]++
	}
	return s
}

// Writes keeps the write requests of events.
func Writes(events []Event) []Event {
	var out []Event
	for _, e := range events {
		if e.Write() {
			out = append(out, e)
		}
	}
	return out
}

// TopKinds formats the most frequent kinds of s, for a table cell.
func (s Summary) TopKinds(n int) string {
	type kv struct {
		k string
		v int
	}
	var kvs []kv
	for k, v := range s.ByKind {
		kvs = append(kvs, kv{k, v})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v || (kvs[i].v == kvs[j].v && kvs[i].k < kvs[j].k) })
	var parts []string
	for i, e := range kvs {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}
