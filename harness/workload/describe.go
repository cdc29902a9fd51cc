package workload

import (
	"fmt"
	"strings"
)

// Describe renders what the options configure, every field a scenario may
// set (seed, total, logger and clock are the harness's and left out), so two
// option lists built differently — in Go or from a scenario file — can be
// compared: equal descriptions make equal workloads.
func Describe(opts ...Option) string {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "producers=%d rate=%g keys=%s size=[%d,%d]", c.producers, c.rate, c.keys, c.minSize, c.maxSize)
	fmt.Fprintf(&b, " aggregate=%d sub-hash-keys=%v", c.aggregate, c.subHashKeys)
	fmt.Fprintf(&b, " malformed-every=%d malformed-style=%d oversized-every=%d oversized-size=%d",
		c.malformedEvery, c.malformedStyle, c.oversizedEvery, c.oversizedSize)
	fmt.Fprintf(&b, " batch=%d max-pending=%d backoff=[%s,%s] call-timeout=%s drain-grace=%s",
		c.batchEntries, c.maxPending, c.backoffMin, c.backoffMax, c.callTimeout, c.drainGrace)
	return b.String()
}

// Validate reports what is wrong with the options, as New would, without a
// client: a scenario file is checked before anything starts.
func Validate(opts ...Option) error {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	c.keys = c.keys.withDefaults()
	return c.validate()
}
