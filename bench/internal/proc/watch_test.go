package proc

import (
	"os"
	"testing"
	"time"
)

// TestWatchRSS watches the test process itself, then a process that does
// not exist: what a watch read before an exit stands.
func TestWatchRSS(t *testing.T) {
	w := WatchRSS(os.Getpid(), 5*time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	p := w.Stop()
	if p.Samples < 2 || p.MaxSampledKiB <= 0 || p.HWMKiB < p.MaxSampledKiB || p.PeakKiB() != p.HWMKiB {
		t.Errorf("own process: %+v", p)
	}
	if again := w.Stop(); again != p {
		t.Errorf("a second Stop returned %+v, not %+v", again, p)
	}
	if gone := WatchRSS(1<<30, time.Millisecond).Stop(); gone != (RSSPeak{}) {
		t.Errorf("no such process: %+v", gone)
	}
}

func TestRSSPeakKiB(t *testing.T) {
	for _, tc := range []struct {
		p    RSSPeak
		want int64
	}{
		{RSSPeak{MaxSampledKiB: 10, HWMKiB: 12}, 12},
		// VmHWM unread (the process exited before the first sample read it).
		{RSSPeak{MaxSampledKiB: 10}, 10},
		{RSSPeak{}, 0},
	} {
		if got := tc.p.PeakKiB(); got != tc.want {
			t.Errorf("%+v: %d, want %d", tc.p, got, tc.want)
		}
	}
}
