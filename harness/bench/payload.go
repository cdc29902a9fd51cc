package bench

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
)

// Every record the bench writes starts with magic and its id (big endian),
// so the tail consumer can tell its records apart and match each to the
// moment its PutRecords was acknowledged.
var magic = []byte("sbbench1")

const headerBytes = 16 // magic + uint64 id

// payloads makes record data of one size: the header, then bytes from a
// seeded random block, so the data is reproducible and, like encrypted or
// already compressed payloads, does not compress.
type payloads struct {
	size  int
	block []byte
}

func newPayloads(size int, seed int64) *payloads {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	// A block a little larger than one record: records take windows of it
	// at different offsets, so consecutive records differ.
	block := make([]byte, size+4096)
	for i := range block {
		block[i] = byte(r.Uint32())
	}
	return &payloads{size: size, block: block}
}

// data returns record id's data (a new slice: the SDK may hold it).
func (p *payloads) data(id uint64) []byte {
	b := make([]byte, p.size)
	copy(b, magic)
	binary.BigEndian.PutUint64(b[len(magic):], id)
	off := int(id*131) % 4096
	copy(b[headerBytes:], p.block[off:off+p.size-headerBytes])
	return b
}

// partitionKey is record id's partition key; the bench places records with
// ExplicitHashKey, so the key only spreads records over Kafka partitions.
func partitionKey(id uint64) string { return "k" + strconv.FormatUint(id, 10) }

// recordID reads the id of a bench record, or reports that v is not one.
func recordID(v []byte) (uint64, bool) {
	if len(v) < headerBytes || !bytes.Equal(v[:len(magic)], magic) {
		return 0, false
	}
	return binary.BigEndian.Uint64(v[len(magic):headerBytes]), true
}
