package workload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Kind says where the replicator is expected to deliver a record.
type Kind string

// The record kinds a workload writes.
const (
	// KindNormal records belong in the main topic.
	KindNormal Kind = "normal"
	// KindMalformed records (a non-JSON payload, or a corrupted KPL
	// aggregate) belong in the dead-letter topic only.
	KindMalformed Kind = "malformed"
	// KindOversized records (larger than the Kafka topic accepts, within the
	// Kinesis 1 MiB limit) belong in the dead-letter topic only.
	KindOversized Kind = "oversized"
)

// Payload is the JSON body of every record the workload writes. The checker
// reads it back from Kafka to tell which logical record a Kafka record is.
type Payload struct {
	Producer int    `json:"producer"`
	Key      string `json:"key"`
	Seq      int64  `json:"seq"` // per (producer, key), from 0
	Kind     Kind   `json:"kind"`
	SentMs   int64  `json:"sent_ms"` // first send attempt, ms since the epoch
	Pad      string `json:"pad"`
}

// MalformedPrefix starts every non-JSON payload the workload writes. What
// follows it is the record's JSON Payload, so a person or the checker can
// still tell which record a dead-lettered payload was, while any JSON
// validator rejects it.
const MalformedPrefix = "!malformed "

// ErrNotPayload reports bytes that are neither a Payload nor a malformed
// payload written by this package (for example a corrupted KPL aggregate).
var ErrNotPayload = errors.New("workload: not a workload payload")

// ParsePayload decodes a record value written by a workload, including the
// non-JSON malformed form.
func ParsePayload(b []byte) (Payload, error) {
	b = bytes.TrimPrefix(b, []byte(MalformedPrefix))
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		return Payload{}, fmt.Errorf("%w: %v", ErrNotPayload, err)
	}
	if p.Key == "" || p.Kind == "" {
		return Payload{}, fmt.Errorf("%w: no key or kind", ErrNotPayload)
	}
	return p, nil
}

// encode renders p padded so the whole value is about size bytes (never
// smaller than the unpadded JSON). fill supplies pad characters.
func (p Payload) encode(size int, fill func(n int) string) []byte {
	p.Pad = ""
	base, _ := json.Marshal(p) // cannot fail: plain fields only
	if n := size - len(base); n > 0 {
		p.Pad = fill(n)
		base, _ = json.Marshal(p)
	}
	if p.Kind == KindMalformed {
		return append([]byte(MalformedPrefix), base...)
	}
	return base
}
