package backend

import "testing"

func TestSeedFromEnv(t *testing.T) {
	seed, err := SeedFromEnv(func(string) string { return "42" })
	if err != nil || seed != 42 {
		t.Fatalf("seed %d, %v", seed, err)
	}
	if _, err := SeedFromEnv(func(string) string { return "x" }); err == nil {
		t.Fatal("a non-integer seed must be refused")
	}
}
