package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// The manager sets the Go memory limit to 90% of its container's limit,
// and leaves one set in the environment alone.
func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("AUTOMEMLIMIT", "") // restored after the test
	if err := os.Unsetenv("AUTOMEMLIMIT"); err != nil {
		t.Fatal(err)
	}

	var shipped uint64 = 256 << 20 // config/manager/manager.yaml's limit
	got, err := setMemoryLimit(memlimit.Limit(shipped))
	if err != nil {
		t.Fatal(err)
	}
	want := int64(float64(shipped) * memoryLimitRatio) // 230.4 MiB
	if got != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("limit %d (runtime %d), want %d", got, debug.SetMemoryLimit(-1), want)
	}

	// No container limit: no Go limit.
	if got, err := setMemoryLimit(func() (uint64, error) { return 0, memlimit.ErrNoLimit }); err != nil || got != math.MaxInt64 {
		t.Errorf("without a limit: %d, %v; want MaxInt64", got, err)
	}

	// GOMEMLIMIT set by the user wins.
	debug.SetMemoryLimit(123 << 20)
	t.Setenv("GOMEMLIMIT", "123MiB")
	if got, err := setMemoryLimit(memlimit.Limit(shipped)); err != nil || got != 123<<20 {
		t.Errorf("with GOMEMLIMIT set: %d, %v; want it left at %d", got, err, 123<<20)
	}
}

// The manager's collector target is gcPercent, unless GOGC is set.
func TestSetGCPercent(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Setenv("GOGC", "") // restored after the test
	if err := os.Unsetenv("GOGC"); err != nil {
		t.Fatal(err)
	}
	debug.SetGCPercent(100)
	if got := setGCPercent(); got != gcPercent || debug.SetGCPercent(-1) != gcPercent {
		t.Errorf("without GOGC: %d, want %d", got, gcPercent)
	}

	// GOGC set by the user wins: the runtime read it at start, and it is
	// left as it is.
	t.Setenv("GOGC", "200")
	debug.SetGCPercent(200)
	if got := setGCPercent(); got != 200 || debug.SetGCPercent(200) != 200 {
		t.Errorf("with GOGC=200: %d, want it left at 200", got)
	}
}
