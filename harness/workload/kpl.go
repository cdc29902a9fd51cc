package workload

import (
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The workload's own encoder of the Kinesis Producer Library (KPL)
// aggregation format, so the harness shares no code with the replicator it
// tests (amazon-kinesis-producer, aggregation-format.md): the 4 magic bytes
// F3 89 9A C2, a protobuf AggregatedRecord, then the 16-byte MD5 of the
// protobuf bytes.
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	}
//
// Partition keys and explicit hash keys are deduplicated into their tables
// in order of first use, as the KPL does; fields are written in field-number
// order, the tables before the records.

// kplMagic starts every KPL aggregate.
var kplMagic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

// Field numbers of the aggregation format.
const (
	kplPartitionKeyTable    protowire.Number = 1
	kplExplicitHashKeyTable protowire.Number = 2
	kplRecords              protowire.Number = 3

	kplPartitionKeyIndex    protowire.Number = 1
	kplExplicitHashKeyIndex protowire.Number = 2
	kplData                 protowire.Number = 3
)

// subRecord is one user record of an aggregate.
type subRecord struct {
	partitionKey    string
	explicitHashKey string // decimal 128-bit hash key; "" for none
	data            []byte
}

// aggregate encodes subs, in order, as one KPL aggregate.
func aggregate(subs []subRecord) ([]byte, error) {
	if len(subs) == 0 {
		return nil, errors.New("kpl: an aggregate needs at least one sub-record")
	}
	pkIndex := map[string]uint64{}
	ehkIndex := map[string]uint64{}
	var pkTable, ehkTable []string
	index := func(k string, idx map[string]uint64, table *[]string) uint64 {
		i, ok := idx[k]
		if !ok {
			i = uint64(len(*table))
			idx[k] = i
			*table = append(*table, k)
		}
		return i
	}
	pks := make([]uint64, len(subs))
	ehks := make([]int64, len(subs)) // -1 = none
	size := 0
	for i, s := range subs {
		pks[i] = index(s.partitionKey, pkIndex, &pkTable)
		ehks[i] = -1
		if s.explicitHashKey != "" {
			if _, ok := parseHash(s.explicitHashKey); !ok {
				return nil, fmt.Errorf("kpl: sub-record %d: explicit hash key %q is not a decimal in [0, 2^128)", i, s.explicitHashKey)
			}
			ehks[i] = int64(index(s.explicitHashKey, ehkIndex, &ehkTable))
		}
		size += len(s.data) + 16
	}
	for _, k := range pkTable {
		size += len(k) + 4
	}
	for _, k := range ehkTable {
		size += len(k) + 4
	}

	out := make([]byte, 0, len(kplMagic)+size+md5.Size)
	out = append(out, kplMagic[:]...)
	for _, k := range pkTable {
		out = protowire.AppendTag(out, kplPartitionKeyTable, protowire.BytesType)
		out = protowire.AppendString(out, k)
	}
	for _, k := range ehkTable {
		out = protowire.AppendTag(out, kplExplicitHashKeyTable, protowire.BytesType)
		out = protowire.AppendString(out, k)
	}
	var msg []byte
	for i, s := range subs {
		msg = msg[:0]
		msg = protowire.AppendTag(msg, kplPartitionKeyIndex, protowire.VarintType)
		msg = protowire.AppendVarint(msg, pks[i])
		if ehks[i] >= 0 {
			msg = protowire.AppendTag(msg, kplExplicitHashKeyIndex, protowire.VarintType)
			msg = protowire.AppendVarint(msg, uint64(ehks[i]))
		}
		msg = protowire.AppendTag(msg, kplData, protowire.BytesType)
		msg = protowire.AppendBytes(msg, s.data)
		out = protowire.AppendTag(out, kplRecords, protowire.BytesType)
		out = protowire.AppendBytes(out, msg)
	}
	sum := md5.Sum(out[len(kplMagic):])
	return append(out, sum[:]...), nil
}
