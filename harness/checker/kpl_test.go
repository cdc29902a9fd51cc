package checker_test

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// A KPL de-aggregator for the test bridge, written from the format
// (amazon-kinesis-producer aggregation-format.md) so the checker's tests
// share no code with the replicator: magic F3 89 9A C2, a protobuf
// AggregatedRecord {1: partition_key_table, 2: explicit_hash_key_table,
// 3: records}, Record {1: partition_key_index, 2: explicit_hash_key_index,
// 3: data}, then the MD5 of the protobuf.

var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

var errNotAggregated = errors.New("not a KPL aggregate")

type subRecord struct {
	PartitionKey string
	Data         []byte
	SubSequence  int64
}

func deaggregate(data []byte) ([]subRecord, error) {
	if len(data) < len(kplMagic)+md5.Size || !bytes.HasPrefix(data, kplMagic) {
		return nil, errNotAggregated
	}
	body := data[len(kplMagic) : len(data)-md5.Size]
	if sum := md5.Sum(body); !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
		return nil, errNotAggregated
	}
	var keys []string
	var recs [][]byte
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return nil, fmt.Errorf("aggregate: bad tag")
		}
		body = body[n:]
		if typ != protowire.BytesType {
			return nil, fmt.Errorf("aggregate: field %d has wire type %d", num, typ)
		}
		v, n := protowire.ConsumeBytes(body)
		if n < 0 {
			return nil, fmt.Errorf("aggregate: field %d: %w", num, protowire.ParseError(n))
		}
		body = body[n:]
		switch num {
		case 1:
			keys = append(keys, string(v))
		case 3:
			recs = append(recs, v)
		}
	}
	if len(recs) == 0 {
		return nil, errors.New("aggregate: no records")
	}
	subs := make([]subRecord, len(recs))
	for i, m := range recs {
		subs[i].SubSequence = int64(i)
		pk, data := -1, false
		for len(m) > 0 {
			num, typ, n := protowire.ConsumeTag(m)
			if n < 0 {
				return nil, fmt.Errorf("record %d: bad tag", i)
			}
			m = m[n:]
			n = protowire.ConsumeFieldValue(num, typ, m)
			if n < 0 {
				return nil, fmt.Errorf("record %d: field %d: %w", i, num, protowire.ParseError(n))
			}
			switch {
			case num == 1 && typ == protowire.VarintType:
				v, _ := protowire.ConsumeVarint(m)
				if v >= uint64(len(keys)) {
					return nil, fmt.Errorf("record %d: partition key index %d out of range", i, v)
				}
				pk = int(v)
			case num == 3 && typ == protowire.BytesType:
				subs[i].Data, _ = protowire.ConsumeBytes(m)
				data = true
			}
			m = m[n:]
		}
		if pk < 0 || !data {
			return nil, fmt.Errorf("record %d: missing a required field", i)
		}
		subs[i].PartitionKey = keys[pk]
	}
	return subs, nil
}
