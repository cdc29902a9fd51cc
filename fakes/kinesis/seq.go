package kinesis

import "math"

// Sequence numbers are 56-digit decimal strings, like the ones AWS hands out:
//
//	"49" | counter (20 digits) | stream id (10) | shard index (12) | check (12)
//
// counter is an emulator-wide counter taken under the stream lock, so numbers
// strictly increase within a shard and are monotone in arrival order across
// the whole emulator. Because the width is fixed and the counter sits in the
// high digits, numeric (big.Int) and string order agree. The stream id and
// shard index let AT/AFTER_SEQUENCE_NUMBER reject a number from another shard
// or stream; the check digits reject made-up numbers.

const seqLen = 56

func mixSeq(counter, streamID uint64, shard int) uint64 {
	x := counter*0x9E3779B97F4A7C15 ^ streamID*0xC2B2AE3D27D4EB4F ^ uint64(shard)*0x165667B19E3779F9
	x ^= x >> 29
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 32
	return x % 1_000_000_000_000
}

func appendPadded(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	for n := len(buf) - i; n < width; n++ {
		dst = append(dst, '0')
	}
	return append(dst, buf[i:]...)
}

func appendSeq(dst []byte, counter, streamID uint64, shard int) []byte {
	dst = append(dst, '4', '9')
	dst = appendPadded(dst, counter, 20)
	dst = appendPadded(dst, streamID, 10)
	dst = appendPadded(dst, uint64(shard), 12)
	return appendPadded(dst, mixSeq(counter, streamID, shard), 12)
}

func formatSeq(counter, streamID uint64, shard int) string {
	return string(appendSeq(make([]byte, 0, seqLen), counter, streamID, shard))
}

func parseDigits(s string) (uint64, bool) {
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false // overflow
		}
		v = v*10 + d
	}
	return v, true
}

// parseSeq decodes a sequence number issued by this emulator.
func parseSeq(s string) (counter, streamID uint64, shard int, ok bool) {
	if len(s) != seqLen || s[0] != '4' || s[1] != '9' {
		return 0, 0, 0, false
	}
	c, ok1 := parseDigits(s[2:22])
	sid, ok2 := parseDigits(s[22:32])
	sh, ok3 := parseDigits(s[32:44])
	chk, ok4 := parseDigits(s[44:56])
	if !ok1 || !ok2 || !ok3 || !ok4 || sh > 1<<40 {
		return 0, 0, 0, false
	}
	if mixSeq(c, sid, int(sh)) != chk {
		return 0, 0, 0, false
	}
	return c, sid, int(sh), true
}

// isDecimal reports whether s looks like a Kinesis sequence number
// (0|[1-9][0-9]{0,128}).
func isDecimal(s string) bool {
	if len(s) == 0 || len(s) > 129 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
