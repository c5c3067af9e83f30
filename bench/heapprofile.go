package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// heapProfile writes the running manager's heap profile to
// -heap-profile/heap-<name>.pb.gz, if -heap-profile is set. gc=1 makes the
// manager collect garbage first, so the profile's inuse figures are live
// memory. The collection can lower the manager's RSS but not its peak,
// which is what the bench reads.
func (e *env) heapProfile(ctx context.Context, name string) error {
	if e.cfg.heapProfile == "" || e.mgr.cur == nil {
		return nil
	}
	if e.mgr.pprofURL == "" {
		return fmt.Errorf("heap profile %s: the manager serves no pprof", name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.mgr.pprofURL+"/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("heap profile %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile %s: %s", name, resp.Status)
	}
	if err := os.MkdirAll(e.cfg.heapProfile, 0o755); err != nil {
		return err
	}
	path := filepath.Join(e.cfg.heapProfile, "heap-"+name+".pb.gz")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	logf("heap profile %s", path)
	return nil
}

// cpuProfile writes the manager's CPU profile of its first seconds to
// -heap-profile/cpu-<start>.pb.gz, if -heap-profile is set: from as soon as
// its pprof endpoint answers, so a restart's cache fill and resync are in
// it. Errors are logged, not returned: a profile is a diagnosis, not a
// figure.
func (e *env) cpuProfile(ctx context.Context, url string, start int, seconds int) {
	if e.cfg.heapProfile == "" || url == "" {
		return
	}
	go func() {
		for ctx.Err() == nil {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/profile?seconds=%d", url, seconds), nil)
			if err != nil {
				logf("cpu profile %d: %v", start, err)
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue // not serving yet
			}
			defer resp.Body.Close()
			if err := os.MkdirAll(e.cfg.heapProfile, 0o755); err != nil {
				logf("cpu profile %d: %v", start, err)
				return
			}
			path := filepath.Join(e.cfg.heapProfile, fmt.Sprintf("cpu-%d.pb.gz", start))
			f, err := os.Create(path)
			if err != nil {
				logf("cpu profile %d: %v", start, err)
				return
			}
			defer f.Close()
			if _, err := io.Copy(f, resp.Body); err != nil {
				logf("cpu profile %d: %v", start, err)
				return
			}
			logf("cpu profile %s", path)
			return
		}
	}()
}
