package proc

import (
	"sync"
	"time"
)

// RSSPeak is what an RSSWatch saw of a process's resident memory.
type RSSPeak struct {
	// MaxSampledKiB is the highest VmRSS sampled, MaxAtSeconds when (from
	// the watch's start); HWMKiB is VmHWM at the last sample, the kernel's
	// own peak, which sampling can miss.
	MaxSampledKiB int64   `json:"maxSampledKiB"`
	MaxAtSeconds  float64 `json:"maxAtSeconds"`
	HWMKiB        int64   `json:"hwmKiB"`
	Samples       int     `json:"samples"`
}

// PeakKiB is the higher of the sampled peak and VmHWM.
func (p RSSPeak) PeakKiB() int64 { return max(p.MaxSampledKiB, p.HWMKiB) }

// RSSWatch samples a process's VmRSS while it runs. VmHWM alone says how
// high RSS went, not when; the samples say when, and the last VmHWM read
// survives the process's exit.
type RSSWatch struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
	peak RSSPeak
}

// WatchRSS samples pid every interval until Stop.
func WatchRSS(pid int, every time.Duration) *RSSWatch {
	w := &RSSWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(pid, every)
	return w
}

func (w *RSSWatch) run(pid int, every time.Duration) {
	defer close(w.done)
	t0 := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		w.sample(pid, t0)
		select {
		case <-w.stop:
			// VmHWM as of the stop.
			w.sample(pid, t0)
			return
		case <-tick.C:
		}
	}
}

// sample reads pid once; an error is a process that has exited, and what
// was read before stands.
func (w *RSSWatch) sample(pid int, t0 time.Time) {
	m, err := ReadMemory(pid)
	if err != nil {
		return
	}
	w.peak.Samples++
	w.peak.HWMKiB = m.PeakKiB
	if m.CurrentKiB > w.peak.MaxSampledKiB {
		w.peak.MaxSampledKiB, w.peak.MaxAtSeconds = m.CurrentKiB, time.Since(t0).Seconds()
	}
}

// Stop ends the watch (once; later calls return the same) and returns what
// it saw.
func (w *RSSWatch) Stop() RSSPeak {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	return w.peak
}
