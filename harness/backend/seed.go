package backend

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SeedFromEnv returns SHARDBRIDGE_SEED when set, else a fresh seed from the
// time. Callers print the seed so a failing run can be repeated with it.
func SeedFromEnv(getenv func(string) string) (int64, error) {
	v := strings.TrimSpace(getenv(EnvSeed))
	if v == "" {
		return time.Now().UnixNano() % 1_000_000_000, nil
	}
	seed, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", EnvSeed, v)
	}
	return seed, nil
}
