package kinesis

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// trim drops records that arrived before tp. Reslicing keeps the elements
// intact for readers holding an older sub-slice.
func (sh *shard) trim(tp int64) {
	if len(sh.recs) == 0 || sh.recs[0].arrival >= tp {
		return
	}
	i := sort.Search(len(sh.recs), func(i int) bool { return sh.recs[i].arrival >= tp })
	if i == len(sh.recs) {
		sh.recs = nil
		return
	}
	sh.recs = sh.recs[i:]
}

type putEntry struct {
	Data            []byte  `json:"Data"`
	PartitionKey    *string `json:"PartitionKey"`
	ExplicitHashKey *string `json:"ExplicitHashKey"`
}

// validateEntry checks one record and returns its hash key.
func validateEntry(p *putEntry, maxRecord int, where string) (u128, error) {
	if p.PartitionKey == nil {
		return u128{}, invalidArg("%sPartitionKey is required", where)
	}
	if n := utf8.RuneCountInString(*p.PartitionKey); n < 1 || n > maxPartitionKeyLen {
		return u128{}, invalidArg("%sPartitionKey must be between 1 and %d characters, got %d", where, maxPartitionKeyLen, n)
	}
	if size := len(p.Data) + len(*p.PartitionKey); size > maxRecord {
		return u128{}, invalidArg("%srecord size %d bytes (data + partition key) exceeds the maximum of %d bytes", where, size, maxRecord)
	}
	if p.ExplicitHashKey != nil {
		h, ok := parseHashKey(*p.ExplicitHashKey)
		if !ok {
			return u128{}, invalidArg("%sExplicitHashKey %q is not an integer between 0 and 2^128-1", where, *p.ExplicitHashKey)
		}
		return h, nil
	}
	return hashPartitionKey(*p.PartitionKey), nil
}

// putResult is the outcome of storing one record.
type putResult struct {
	shard   int
	counter uint64
	failed  bool
}

// appendRecords stores entries (already validated) under the stream lock.
// With limits on, an entry whose shard is over its write budget fails with
// ProvisionedThroughputExceededException and consumes nothing.
func (e *Emulator) appendRecords(s *stream, entries []putEntry, hashes []u128, res []putResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Read the clock under the lock so concurrent writers cannot append an
	// earlier arrival after a later one.
	now := e.clock.Now()
	nowMs, nowNs := now.UnixMilli(), now.UnixNano()
	tp := s.trimPoint(nowMs)
	for i := range entries {
		sh := s.route(hashes[i])
		size := len(entries[i].Data) + len(*entries[i].PartitionKey)
		res[i].shard = sh.idx
		if s.limits {
			sh.writeRecs.refill(nowNs, shardWriteRecordsPerSec)
			sh.writeBytes.refill(nowNs, shardWriteBytesPerSec)
			if sh.writeRecs.tokens < 1 || sh.writeBytes.tokens < float64(size) {
				res[i].failed = true
				continue
			}
			sh.writeRecs.tokens--
			sh.writeBytes.tokens -= float64(size)
		}
		sh.trim(tp)
		c := e.seq.Add(1)
		// Arrival times never decrease within a shard, even if the clock is
		// set back: trimming and AT_TIMESTAMP binary-search them.
		arrival := nowMs
		if n := len(sh.recs); n > 0 && sh.recs[n-1].arrival > arrival {
			arrival = sh.recs[n-1].arrival
		}
		sh.recs = append(sh.recs, record{counter: c, arrival: arrival, key: *entries[i].PartitionKey, data: entries[i].Data})
		res[i].counter = c
	}
}

func (e *Emulator) throttleMsg(s *stream, shardIdx int) string {
	return "Rate exceeded for shard " + shardName(shardIdx) + " in stream " + s.name + " under account " + e.account + "."
}

func (e *Emulator) opPutRecord(body []byte) ([]byte, error) {
	var in struct {
		streamRef
		putEntry
		SequenceNumberForOrdering *string `json:"SequenceNumberForOrdering"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s, err := e.lookup(in.streamRef)
	if err != nil {
		return nil, err
	}
	if in.SequenceNumberForOrdering != nil && !isDecimal(*in.SequenceNumberForOrdering) {
		return nil, invalidArg("SequenceNumberForOrdering %q is not a sequence number", *in.SequenceNumberForOrdering)
	}
	h, err := validateEntry(&in.putEntry, s.maxRecordBytes, "")
	if err != nil {
		return nil, err
	}
	var res [1]putResult
	e.appendRecords(s, []putEntry{in.putEntry}, []u128{h}, res[:])
	if res[0].failed {
		return nil, newErr(errThroughputExceeded, "%s", e.throttleMsg(s, res[0].shard))
	}
	out := make([]byte, 0, 160)
	out = append(out, `{"ShardId":"`...)
	out = append(out, shardName(res[0].shard)...)
	out = append(out, `","SequenceNumber":"`...)
	out = appendSeq(out, res[0].counter, s.id, res[0].shard)
	out = append(out, `","EncryptionType":"NONE"}`...)
	return out, nil
}

func (e *Emulator) opPutRecords(body []byte) ([]byte, error) {
	var in struct {
		streamRef
		Records []putEntry `json:"Records"`
	}
	var ok bool
	if in.streamRef, in.Records, ok = parsePutRecords(body); !ok {
		if err := decode(body, &in); err != nil {
			return nil, err
		}
	}
	s, err := e.lookup(in.streamRef)
	if err != nil {
		return nil, err
	}
	n := len(in.Records)
	if n < 1 || n > maxPutRecordsEntries {
		return nil, invalidArg("Records must contain between 1 and %d entries, got %d", maxPutRecordsEntries, n)
	}
	hashes := make([]u128, n)
	total := 0
	for i := range in.Records {
		h, err := validateEntry(&in.Records[i], s.maxRecordBytes, "Records["+strconv.Itoa(i)+"]: ")
		if err != nil {
			return nil, err
		}
		hashes[i] = h
		total += len(in.Records[i].Data) + len(*in.Records[i].PartitionKey)
	}
	if limit := max(maxPutRecordsBytes, s.maxRecordBytes); total > limit {
		return nil, invalidArg("PutRecords payload of %d bytes (data + partition keys) exceeds the maximum of %d bytes", total, limit)
	}
	res := make([]putResult, n)
	e.appendRecords(s, in.Records, hashes, res)

	failed := 0
	out := make([]byte, 0, 40+n*130)
	out = append(out, `{"Records":[`...)
	for i, r := range res {
		if i > 0 {
			out = append(out, ',')
		}
		if r.failed {
			failed++
			out = append(out, `{"ErrorCode":"`+errThroughputExceeded+`","ErrorMessage":`...)
			out = appendJSONString(out, e.throttleMsg(s, r.shard))
			out = append(out, '}')
			continue
		}
		out = append(out, `{"SequenceNumber":"`...)
		out = appendSeq(out, r.counter, s.id, r.shard)
		out = append(out, `","ShardId":"`...)
		out = append(out, shardName(r.shard)...)
		out = append(out, `"}`...)
	}
	out = append(out, `],"FailedRecordCount":`...)
	out = strconv.AppendInt(out, int64(failed), 10)
	out = append(out, `,"EncryptionType":"NONE"}`...)
	return out, nil
}

// iterState is what a shard iterator encodes. Iterators are opaque to
// clients: base64 of this JSON.
type iterState struct {
	Stream     string `json:"s"`
	StreamID   uint64 `json:"i"`
	Shard      int    `json:"h"`
	Pos        uint64 `json:"p"`           // next record has counter >= Pos
	MinArrival int64  `json:"a,omitempty"` // AT_TIMESTAMP: skip records that arrived earlier (ms)
	Issued     int64  `json:"t"`           // ms on the emulator clock
}

func (it iterState) encode() string {
	raw, _ := json.Marshal(it) // cannot fail: plain fields
	return base64.StdEncoding.EncodeToString(raw)
}

func decodeIterator(s string) (iterState, bool) {
	var it iterState
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(raw, &it) != nil || it.Stream == "" || it.StreamID == 0 {
		return iterState{}, false
	}
	return it, true
}

func (e *Emulator) opGetShardIterator(body []byte) ([]byte, error) {
	var in struct {
		streamRef
		ShardId                *string      `json:"ShardId"`
		ShardIteratorType      string       `json:"ShardIteratorType"`
		StartingSequenceNumber *string      `json:"StartingSequenceNumber"`
		Timestamp              *epochMillis `json:"Timestamp"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s, err := e.lookup(in.streamRef)
	if err != nil {
		return nil, err
	}
	if in.ShardId == nil {
		return nil, invalidArg("ShardId is required")
	}
	now := e.clock.Now()
	nowMs := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, aerr := s.lookupShard(*in.ShardId, nowMs)
	if aerr != nil {
		return nil, aerr
	}
	it := iterState{Stream: s.name, StreamID: s.id, Shard: sh.idx, Issued: nowMs}
	switch in.ShardIteratorType {
	case "TRIM_HORIZON":
	case "LATEST":
		// Every record appended to this shard from now on takes a larger
		// counter: counters are allocated under this same lock.
		it.Pos = e.seq.Load() + 1
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		if in.StartingSequenceNumber == nil {
			return nil, invalidArg("StartingSequenceNumber is required for %s", in.ShardIteratorType)
		}
		c, sid, shIdx, ok := parseSeq(*in.StartingSequenceNumber)
		if !ok || sid != s.id {
			return nil, invalidArg("StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid.", *in.StartingSequenceNumber, sh.id, s.name, e.account)
		}
		if shIdx != sh.idx {
			return nil, invalidArg("Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s", shardName(shIdx), sh.id)
		}
		it.Pos = c
		if in.ShardIteratorType == "AFTER_SEQUENCE_NUMBER" {
			it.Pos = c + 1
		}
	case "AT_TIMESTAMP":
		if in.Timestamp == nil {
			return nil, invalidArg("Timestamp is required for AT_TIMESTAMP")
		}
		it.MinArrival = int64(*in.Timestamp)
	default:
		return nil, invalidArg("ShardIteratorType %q is not valid", in.ShardIteratorType)
	}
	if s.limits && !sh.iterCalls.take(now.UnixNano(), shardIteratorCallsPerSec, 1) {
		return nil, newErr(errThroughputExceeded, "%s", e.throttleMsg(s, sh.idx))
	}
	out := make([]byte, 0, 300)
	out = append(out, `{"ShardIterator":`...)
	out = appendJSONString(out, it.encode())
	return append(out, '}'), nil
}

func (e *Emulator) opGetRecords(body []byte) ([]byte, error) {
	var in struct {
		ShardIterator *string `json:"ShardIterator"`
		Limit         *int    `json:"Limit"`
		StreamARN     *string `json:"StreamARN"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ShardIterator == nil {
		return nil, invalidArg("ShardIterator is required")
	}
	limit := maxGetRecordsLimit
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > maxGetRecordsLimit {
			return nil, invalidArg("Limit must be between 1 and %d, got %d", maxGetRecordsLimit, *in.Limit)
		}
		limit = *in.Limit
	}
	it, ok := decodeIterator(*in.ShardIterator)
	if !ok {
		return nil, invalidArg("Invalid ShardIterator.")
	}
	now := e.clock.Now()
	nowMs, nowNs := now.UnixMilli(), now.UnixNano()
	if nowMs-it.Issued >= iteratorTTL.Milliseconds() {
		return nil, newErr(errExpiredIterator, "Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			time.UnixMilli(it.Issued).UTC().Format(time.RFC1123), now.UTC().Format(time.RFC1123), iteratorTTL.Milliseconds())
	}
	s, err := e.lookup(streamRef{StreamName: &it.Stream, StreamARN: in.StreamARN})
	if err != nil {
		return nil, err
	}
	if s.id != it.StreamID {
		return nil, newErr(errResourceNotFound, "Stream %s was deleted after the iterator was issued.", it.Stream)
	}

	s.mu.Lock()
	if it.Shard < 0 || it.Shard >= len(s.shards) || s.expired(s.shards[it.Shard], nowMs) {
		s.mu.Unlock()
		return nil, newErr(errResourceNotFound, "Shard %s in stream %s under account %s does not exist", shardName(it.Shard), s.name, e.account)
	}
	sh := s.shards[it.Shard]
	if s.limits {
		// Rule: a call is refused while the shard's read-byte bucket is in
		// debt or its 5 calls/s are used up; an admitted call returns all its
		// data and is charged afterwards, so the call that crosses 2 MiB/s
		// succeeds and the following ones are throttled until the debt is
		// repaid at 2 MiB/s.
		if sh.readBytes.inDebt(nowNs, shardReadBytesPerSec) || !sh.readCalls.take(nowNs, shardReadCallsPerSec, 1) {
			s.mu.Unlock()
			return nil, newErr(errThroughputExceeded, "%s", e.throttleMsg(s, sh.idx))
		}
	}
	recs := sh.recs
	minArrival := max(s.trimPoint(nowMs), it.MinArrival)
	i := sort.Search(len(recs), func(i int) bool { return recs[i].counter >= it.Pos })
	if i < len(recs) && recs[i].arrival < minArrival {
		i += sort.Search(len(recs)-i, func(k int) bool { return recs[i+k].arrival >= minArrival })
	}
	j, bytes := i, 0
	for j < len(recs) && j-i < limit {
		sz := recs[j].size()
		if bytes+sz > maxGetRecordsBytes && j > i {
			break
		}
		bytes += sz
		j++
	}
	batch := recs[i:j]
	atEnd := j == len(recs)
	shardEnd := atEnd && sh.closed
	next := it
	next.Issued = nowMs
	if len(batch) > 0 {
		next.Pos = batch[len(batch)-1].counter + 1
	}
	var behind int64
	if !atEnd {
		behind = max(nowMs-batch[len(batch)-1].arrival, 0)
	}
	var children []childShardJSON
	if shardEnd {
		children = s.childShardsJSON(sh)
	}
	if s.limits {
		sh.readBytes.charge(nowNs, shardReadBytesPerSec, float64(bytes))
	}
	streamID := s.id
	s.mu.Unlock()

	// Encode outside the lock: batch elements are immutable.
	size := 128
	for k := range batch {
		size += base64.StdEncoding.EncodedLen(len(batch[k].data)) + len(batch[k].key) + 140
	}
	out := make([]byte, 0, size)
	out = append(out, `{"Records":[`...)
	for k := range batch {
		r := &batch[k]
		if k > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"SequenceNumber":"`...)
		out = appendSeq(out, r.counter, streamID, it.Shard)
		out = append(out, `","ApproximateArrivalTimestamp":`...)
		out = appendEpoch(out, r.arrival)
		out = append(out, `,"Data":`...)
		out = appendBase64(out, r.data)
		out = append(out, `,"PartitionKey":`...)
		out = appendJSONString(out, r.key)
		out = append(out, '}')
	}
	out = append(out, `],"NextShardIterator":`...)
	if shardEnd {
		out = append(out, "null"...)
	} else {
		out = appendJSONString(out, next.encode())
	}
	out = append(out, `,"MillisBehindLatest":`...)
	out = strconv.AppendInt(out, behind, 10)
	if shardEnd {
		cs, err := json.Marshal(children)
		if err != nil {
			return nil, err
		}
		out = append(out, `,"ChildShards":`...)
		out = append(out, cs...)
	}
	return append(out, '}'), nil
}
