//go:build unix

package manifest

import (
	"syscall"
	"time"
)

// cpuTime is the user+system CPU time of this process so far. Benchmarks
// report it next to wall time: on a shared machine wall time mostly
// measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
