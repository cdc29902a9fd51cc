package config

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultMemoryBudget is the memory budget when neither
// REPLICATOR_MEMORY_BUDGET nor a Go runtime memory limit (GOMEMLIMIT, or
// one derived from the container's cgroup limit) says otherwise: sized, with
// the Go heap's growth and the process's fixed cost, to keep a default
// instance well under 256 MiB RSS (docs/operations.md, Memory).
const DefaultMemoryBudget = 64 << 20

// MinMemoryBudget is the smallest budget accepted.
const MinMemoryBudget = 1 << 20

// memoryLimitShare is the part of a runtime memory limit given to the
// budget: the Go heap grows to about twice its live data between
// collections, and the process needs room besides the records it holds.
const memoryLimitShare = 4

// MemoryBudgetBytes is the budget in force: REPLICATOR_MEMORY_BUDGET when
// set, else a quarter of the Go runtime's memory limit when there is one
// (at least MinMemoryBudget), else DefaultMemoryBudget.
func (c Config) MemoryBudgetBytes() int64 {
	if c.MemoryBudget > 0 {
		return c.MemoryBudget
	}
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		return max(limit/memoryLimitShare, MinMemoryBudget)
	}
	return DefaultMemoryBudget
}

// parseBytes reads a byte count: a plain integer, or one with a KiB, MiB or
// GiB suffix.
func parseBytes(v string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(v, suffix); ok {
			v, mult = strings.TrimSpace(n), m
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a byte count (an integer, optionally with KiB, MiB or GiB)", v)
	}
	return n * mult, nil
}

// memoryBudget is REPLICATOR_MEMORY_BUDGET: "auto" (0) or a byte count of at
// least MinMemoryBudget.
func memoryBudget() rule {
	return rule{
		set: func(c *Config, v string) error {
			if v == "auto" {
				c.MemoryBudget = 0
				return nil
			}
			n, err := parseBytes(v)
			if err != nil {
				return err
			}
			c.MemoryBudget = n
			return nil
		},
		check: func(c *Config) error {
			if c.MemoryBudget != 0 && c.MemoryBudget < MinMemoryBudget {
				return fmt.Errorf("%d bytes is below the minimum of %d (1 MiB)", c.MemoryBudget, MinMemoryBudget)
			}
			return nil
		},
	}
}
