package kinesis

import (
	"crypto/md5"
	"encoding/binary"
	"math/big"
)

// u128 is a hash key: an unsigned 128-bit integer. Kinesis partitions the
// range [0, 2^128-1] among shards; keeping it as two words avoids big.Int on
// the write path.
type u128 struct{ hi, lo uint64 }

var maxHashKey = u128{^uint64(0), ^uint64(0)}

func (a u128) cmp(b u128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

func (a u128) add1() u128 {
	lo := a.lo + 1
	hi := a.hi
	if lo == 0 {
		hi++
	}
	return u128{hi, lo}
}

func (a u128) sub1() u128 {
	hi := a.hi
	if a.lo == 0 {
		hi--
	}
	return u128{hi, a.lo - 1}
}

func (a u128) big() *big.Int {
	b := new(big.Int).SetUint64(a.hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(a.lo))
}

func u128FromBig(b *big.Int) u128 {
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0))).Uint64()
	hi := new(big.Int).Rsh(b, 64).Uint64()
	return u128{hi, lo}
}

func (a u128) String() string { return a.big().String() }

// hashPartitionKey maps a partition key to its hash key as Kinesis does: the
// MD5 digest of the UTF-8 bytes read as a big-endian unsigned integer.
func hashPartitionKey(key string) u128 {
	sum := md5.Sum([]byte(key))
	return u128{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

// parseHashKey parses a decimal hash key in the form Kinesis accepts
// (0|[1-9][0-9]{0,38}) and at most 2^128-1.
func parseHashKey(s string) (u128, bool) {
	if len(s) == 0 || len(s) > 39 || (len(s) > 1 && s[0] == '0') {
		return u128{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return u128{}, false
		}
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok || b.Cmp(maxHashKey.big()) > 0 {
		return u128{}, false
	}
	return u128FromBig(b), true
}

// evenStarts returns the starting hash keys of n shards dividing the hash
// space evenly: start_i = floor(i * 2^128 / n), as CreateStream lays them out.
func evenStarts(n int) []u128 {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	out := make([]u128, n)
	for i := 0; i < n; i++ {
		v := new(big.Int).Mul(space, big.NewInt(int64(i)))
		v.Quo(v, big.NewInt(int64(n)))
		out[i] = u128FromBig(v)
	}
	return out
}
