package workload

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
)

type keyKind int

const (
	keysUniform keyKind = iota
	keysZipf
	keysSingle
	keysPinned
)

// Keys is a partition-key distribution. Build one with UniformKeys, ZipfKeys,
// SingleKey or PinnedKeys; the zero value is UniformKeys(16).
type Keys struct {
	kind    keyKind
	n       int
	s       float64
	name    string
	hashKey string
}

// UniformKeys picks uniformly among n keys named key-0000 … key-(n-1).
func UniformKeys(n int) Keys { return Keys{kind: keysUniform, n: n} }

// ZipfKeys picks among n keys with Zipf skew s (> 1; larger is hotter):
// key-0000 is the hottest. Draws come from math/rand/v2's Zipf on the
// producer's seeded source, so a seed fixes the sequence.
func ZipfKeys(n int, s float64) Keys { return Keys{kind: keysZipf, n: n, s: s} }

// SingleKey sends every record with one partition key: the hottest possible
// key, all on one shard.
func SingleKey(name string) Keys { return Keys{kind: keysSingle, n: 1, name: name} }

// PinnedKeys picks uniformly among n keys named pin-0000 … and sends them all
// with ExplicitHashKey hashKey (a decimal 128-bit integer), which pins every
// record to the shard whose hash range holds hashKey. See HashKeyIn.
func PinnedKeys(n int, hashKey string) Keys {
	return Keys{kind: keysPinned, n: n, hashKey: hashKey}
}

func (k Keys) withDefaults() Keys {
	if k.n == 0 && k.kind == keysUniform {
		k.n = 16
	}
	return k
}

func (k Keys) validate() error {
	if k.n < 1 {
		return fmt.Errorf("key distribution needs at least one key, got %d", k.n)
	}
	switch k.kind {
	case keysZipf:
		if !(k.s > 1) {
			return fmt.Errorf("zipf skew must be > 1, got %v", k.s)
		}
	case keysSingle:
		if k.name == "" {
			return errors.New("single key needs a name")
		}
	case keysPinned:
		if _, ok := parseHash(k.hashKey); !ok {
			return fmt.Errorf("pinned keys: explicit hash key %q is not a decimal in [0, 2^128)", k.hashKey)
		}
	}
	return nil
}

// String describes the distribution for logs and reports.
func (k Keys) String() string {
	k = k.withDefaults()
	switch k.kind {
	case keysZipf:
		return fmt.Sprintf("zipf(%d keys, s=%g)", k.n, k.s)
	case keysSingle:
		return fmt.Sprintf("single(%s)", k.name)
	case keysPinned:
		return fmt.Sprintf("pinned(%d keys, hash %s)", k.n, k.hashKey)
	default:
		return fmt.Sprintf("uniform(%d keys)", k.n)
	}
}

// picker draws keys for one producer from its own seeded source.
type picker struct {
	keys Keys
	rng  *rand.Rand
	zipf *rand.Zipf
}

func newPicker(k Keys, rng *rand.Rand) *picker {
	p := &picker{keys: k, rng: rng}
	if k.kind == keysZipf {
		p.zipf = rand.NewZipf(rng, k.s, 1, uint64(k.n-1))
	}
	return p
}

// next returns the partition key and the explicit hash key ("" for none).
func (p *picker) next() (key, hashKey string) {
	switch p.keys.kind {
	case keysSingle:
		return p.keys.name, ""
	case keysZipf:
		return fmt.Sprintf("key-%04d", p.zipf.Uint64()), ""
	case keysPinned:
		return fmt.Sprintf("pin-%04d", p.rng.IntN(p.keys.n)), p.keys.hashKey
	default:
		return fmt.Sprintf("key-%04d", p.rng.IntN(p.keys.n)), ""
	}
}

var maxHash = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

func parseHash(s string) (*big.Int, bool) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || v.Cmp(maxHash) > 0 {
		return nil, false
	}
	return v, true
}

// HashKeyIn returns the midpoint of a shard's hash key range (the decimal
// StartingHashKey and EndingHashKey that ListShards reports), an explicit hash
// key that pins records to that shard.
func HashKeyIn(startingHashKey, endingHashKey string) (string, error) {
	lo, ok1 := parseHash(startingHashKey)
	hi, ok2 := parseHash(endingHashKey)
	if !ok1 || !ok2 || lo.Cmp(hi) > 0 {
		return "", fmt.Errorf("workload: bad hash key range [%s, %s]", startingHashKey, endingHashKey)
	}
	mid := new(big.Int).Add(lo, hi)
	return mid.Rsh(mid, 1).String(), nil
}
