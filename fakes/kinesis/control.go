package kinesis

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
)

func (e *Emulator) opCreateStream(body []byte) ([]byte, error) {
	var in struct {
		StreamName         *string `json:"StreamName"`
		ShardCount         *int    `json:"ShardCount"`
		MaxRecordSizeInKiB *int    `json:"MaxRecordSizeInKiB"`
		StreamModeDetails  *struct {
			StreamMode string `json:"StreamMode"`
		} `json:"StreamModeDetails"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := e.checkAccountLimit("CreateStream", nil); err != nil {
		return nil, err
	}
	if in.StreamName == nil {
		return nil, invalidArg("StreamName is required")
	}
	mode := modeProvisioned
	if in.StreamModeDetails != nil && in.StreamModeDetails.StreamMode != "" {
		mode = in.StreamModeDetails.StreamMode
	}
	maxRecord := defaultMaxRecordBytes
	if in.MaxRecordSizeInKiB != nil {
		if *in.MaxRecordSizeInKiB < 1024 || *in.MaxRecordSizeInKiB > 10240 {
			return nil, invalidArg("MaxRecordSizeInKiB must be between 1024 and 10240, got %d", *in.MaxRecordSizeInKiB)
		}
		maxRecord = *in.MaxRecordSizeInKiB << 10
	}
	var shards int
	switch mode {
	case modeOnDemand:
		shards = onDemandShardCount
	case modeProvisioned:
		if in.ShardCount == nil {
			return nil, invalidArg("ShardCount is required for a PROVISIONED stream")
		}
		shards = *in.ShardCount
	default:
		return nil, invalidArg("StreamMode %q is not PROVISIONED or ON_DEMAND", mode)
	}
	if err := e.createStream(*in.StreamName, shards, mode, maxRecord); err != nil {
		return nil, err
	}
	return emptyOutput, nil
}

func (e *Emulator) opDeleteStream(body []byte) ([]byte, error) {
	var in streamRef
	s, err := e.controlStream("DeleteStream", body, &in)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.streams[s.name] == s {
		delete(e.streams, s.name)
	}
	e.mu.Unlock()
	e.log.Info("kinesis stream deleted", "stream", s.name)
	return emptyOutput, nil
}

func (e *Emulator) opDescribeStream(body []byte) ([]byte, error) {
	var in struct {
		streamRef
		Limit                 *int    `json:"Limit"`
		ExclusiveStartShardId *string `json:"ExclusiveStartShardId"`
	}
	s, err := e.controlStream("DescribeStream", body, &in)
	if err != nil {
		return nil, err
	}
	limit := defaultDescribeLimit
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 10000 {
			return nil, invalidArg("Limit must be between 1 and 10000, got %d", *in.Limit)
		}
		limit = *in.Limit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	shards := s.visibleShards(e.nowMs())
	if in.ExclusiveStartShardId != nil {
		shards = afterShardID(shards, *in.ExclusiveStartShardId)
	}
	more := len(shards) > limit
	if more {
		shards = shards[:limit]
	}
	out := make([]shardJSON, 0, len(shards))
	for _, sh := range shards {
		out = append(out, s.shardJSON(sh))
	}
	return encode(map[string]any{"StreamDescription": map[string]any{
		"StreamName":              s.name,
		"StreamARN":               s.arn,
		"StreamStatus":            "ACTIVE",
		"StreamModeDetails":       streamModeJSON{s.mode},
		"Shards":                  out,
		"HasMoreShards":           more,
		"RetentionPeriodHours":    s.retentionHours,
		"StreamCreationTimestamp": epochMillis(s.createdMs),
		"EnhancedMonitoring":      []enhancedMetricsJSON{{ShardLevelMetrics: []string{}}},
		"EncryptionType":          "NONE",
	}})
}

// afterShardID keeps the shards whose id sorts after id. Shard ids are
// zero-padded, so string order is creation order.
func afterShardID(shards []*shard, id string) []*shard {
	i := sort.Search(len(shards), func(i int) bool { return shards[i].id > id })
	return shards[i:]
}

func (e *Emulator) opDescribeStreamSummary(body []byte) ([]byte, error) {
	var in streamRef
	s, err := e.controlStream("DescribeStreamSummary", body, &in)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return encode(map[string]any{"StreamDescriptionSummary": map[string]any{
		"StreamName":              s.name,
		"StreamARN":               s.arn,
		"StreamStatus":            "ACTIVE",
		"StreamModeDetails":       streamModeJSON{s.mode},
		"RetentionPeriodHours":    s.retentionHours,
		"StreamCreationTimestamp": epochMillis(s.createdMs),
		"EnhancedMonitoring":      []enhancedMetricsJSON{{ShardLevelMetrics: []string{}}},
		"EncryptionType":          "NONE",
		"OpenShardCount":          s.openCount(),
		"ConsumerCount":           0,
		"MaxRecordSizeInKiB":      s.maxRecordBytes >> 10,
	}})
}

func (e *Emulator) opListStreams(body []byte) ([]byte, error) {
	var in struct {
		Limit                    *int    `json:"Limit"`
		ExclusiveStartStreamName *string `json:"ExclusiveStartStreamName"`
		NextToken                *string `json:"NextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := e.checkAccountLimit("ListStreams", nil); err != nil {
		return nil, err
	}
	limit := defaultListStreamLimit
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 10000 {
			return nil, invalidArg("Limit must be between 1 and 10000, got %d", *in.Limit)
		}
		limit = *in.Limit
	}
	after := ""
	if in.ExclusiveStartStreamName != nil {
		after = *in.ExclusiveStartStreamName
	}
	if in.NextToken != nil {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(*in.NextToken, "streams:"))
		if err != nil || !strings.HasPrefix(*in.NextToken, "streams:") {
			return nil, invalidArg("NextToken is invalid")
		}
		after = string(raw)
	}
	e.mu.RLock()
	names := make([]string, 0, len(e.streams))
	for n := range e.streams {
		if n > after {
			names = append(names, n)
		}
	}
	streams := make(map[string]*stream, len(names))
	for _, n := range names {
		streams[n] = e.streams[n]
	}
	e.mu.RUnlock()
	sort.Strings(names)
	more := len(names) > limit
	if more {
		names = names[:limit]
	}
	type summary struct {
		StreamName              string         `json:"StreamName"`
		StreamARN               string         `json:"StreamARN"`
		StreamStatus            string         `json:"StreamStatus"`
		StreamModeDetails       streamModeJSON `json:"StreamModeDetails"`
		StreamCreationTimestamp epochMillis    `json:"StreamCreationTimestamp"`
	}
	sums := make([]summary, 0, len(names))
	for _, n := range names {
		s := streams[n]
		sums = append(sums, summary{s.name, s.arn, "ACTIVE", streamModeJSON{s.mode}, epochMillis(s.createdMs)})
	}
	out := map[string]any{"StreamNames": names, "HasMoreStreams": more, "StreamSummaries": sums}
	if more {
		out["NextToken"] = "streams:" + base64.RawURLEncoding.EncodeToString([]byte(names[len(names)-1]))
	}
	return encode(out)
}

// listToken is the opaque ListShards NextToken.
type listToken struct {
	Stream   string       `json:"s"`
	StreamID uint64       `json:"i"`
	After    string       `json:"a"`
	Filter   *shardFilter `json:"f,omitempty"`
	Issued   int64        `json:"t"`
}

type shardFilter struct {
	Type      string       `json:"Type"`
	ShardId   *string      `json:"ShardId,omitempty"`
	Timestamp *epochMillis `json:"Timestamp,omitempty"`
}

func (e *Emulator) opListShards(body []byte) ([]byte, error) {
	var in struct {
		streamRef
		NextToken               *string      `json:"NextToken"`
		ExclusiveStartShardId   *string      `json:"ExclusiveStartShardId"`
		MaxResults              *int         `json:"MaxResults"`
		StreamCreationTimestamp *epochMillis `json:"StreamCreationTimestamp"`
		ShardFilter             *shardFilter `json:"ShardFilter"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit := defaultListShardsLimit
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 10000 {
			return nil, invalidArg("MaxResults must be between 1 and 10000, got %d", *in.MaxResults)
		}
		// AWS returns at most 1000 shards per call whatever MaxResults says.
		limit = min(*in.MaxResults, defaultListShardsLimit)
	}
	var (
		s      *stream
		after  string
		filter = in.ShardFilter
		err    error
	)
	nowMs := e.nowMs()
	if in.NextToken != nil {
		if in.StreamName != nil || in.StreamCreationTimestamp != nil || in.ExclusiveStartShardId != nil || in.ShardFilter != nil {
			return nil, invalidArg("NextToken cannot be combined with StreamName, StreamCreationTimestamp, ExclusiveStartShardId or ShardFilter")
		}
		var tok listToken
		raw, derr := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if derr != nil || json.Unmarshal(raw, &tok) != nil || tok.Stream == "" {
			return nil, invalidArg("NextToken is invalid")
		}
		if nowMs-tok.Issued >= nextTokenTTL.Milliseconds() {
			return nil, newErr(errExpiredNextToken, "The NextToken has expired (tokens are valid for 300 seconds).")
		}
		s, err = e.lookup(streamRef{StreamName: &tok.Stream, StreamARN: in.StreamARN})
		if err != nil {
			return nil, err
		}
		if s.id != tok.StreamID {
			return nil, newErr(errResourceNotFound, "Stream %s was deleted since the NextToken was issued", tok.Stream)
		}
		after, filter = tok.After, tok.Filter
	} else {
		s, err = e.lookup(in.streamRef)
		if err != nil {
			return nil, err
		}
		if in.StreamCreationTimestamp != nil && int64(*in.StreamCreationTimestamp) != s.createdMs {
			return nil, newErr(errResourceNotFound, "Stream %s with creation timestamp %d not found", s.name, int64(*in.StreamCreationTimestamp))
		}
		if in.ExclusiveStartShardId != nil {
			after = *in.ExclusiveStartShardId
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limits && !s.listShards.take(e.clock.Now().UnixNano(), listShardsPerSecPerStrm, 1) {
		return nil, newErr(errLimitExceeded, "Rate exceeded for ListShards on stream %s under account %s.", s.name, e.account)
	}
	shards, ferr := s.filterShards(filter, nowMs)
	if ferr != nil {
		return nil, ferr
	}
	if after != "" {
		shards = afterShardID(shards, after)
	}
	out := struct {
		Shards    []shardJSON `json:"Shards"`
		NextToken string      `json:"NextToken,omitempty"`
	}{Shards: make([]shardJSON, 0, min(len(shards), limit))}
	more := len(shards) > limit
	if more {
		shards = shards[:limit]
	}
	for _, sh := range shards {
		out.Shards = append(out.Shards, s.shardJSON(sh))
	}
	if more {
		raw, err := json.Marshal(listToken{Stream: s.name, StreamID: s.id, After: shards[len(shards)-1].id, Filter: filter, Issued: nowMs})
		if err != nil {
			return nil, err
		}
		out.NextToken = base64.RawURLEncoding.EncodeToString(raw)
	}
	return encode(out)
}

// filterShards applies a ListShards ShardFilter to the non-expired shards.
// Instants before the trim horizon or the stream's creation are clamped to
// them, so the result always covers the whole hash key space.
func (s *stream) filterShards(f *shardFilter, nowMs int64) ([]*shard, error) {
	all := s.visibleShards(nowMs)
	if f == nil {
		return all, nil
	}
	clamp := func(t int64) int64 {
		return max(t, s.trimPoint(nowMs), s.createdMs)
	}
	keep := func(pred func(*shard) bool) []*shard {
		out := all[:0:0]
		for _, sh := range all {
			if pred(sh) {
				out = append(out, sh)
			}
		}
		return out
	}
	needTS := func() (int64, error) {
		if f.Timestamp == nil {
			return 0, invalidArg("ShardFilter type %s requires Timestamp", f.Type)
		}
		return clamp(int64(*f.Timestamp)), nil
	}
	switch f.Type {
	case "AT_LATEST":
		return keep(func(sh *shard) bool { return !sh.closed }), nil
	case "AT_TRIM_HORIZON":
		t := clamp(0)
		return keep(func(sh *shard) bool { return sh.openAt(t) }), nil
	case "FROM_TRIM_HORIZON":
		return all, nil
	case "AT_TIMESTAMP":
		t, err := needTS()
		if err != nil {
			return nil, err
		}
		return keep(func(sh *shard) bool { return sh.openAt(t) }), nil
	case "FROM_TIMESTAMP":
		t, err := needTS()
		if err != nil {
			return nil, err
		}
		return keep(func(sh *shard) bool { return !sh.closed || sh.closedMs > t }), nil
	case "AFTER_SHARD_ID":
		if f.ShardId == nil {
			return nil, invalidArg("ShardFilter type AFTER_SHARD_ID requires ShardId")
		}
		return afterShardID(all, *f.ShardId), nil
	default:
		return nil, invalidArg("ShardFilter type %q is not valid", f.Type)
	}
}

func (e *Emulator) opSplitShard(body []byte) ([]byte, error) {
	var in struct {
		streamRef
		ShardToSplit       *string `json:"ShardToSplit"`
		NewStartingHashKey *string `json:"NewStartingHashKey"`
	}
	s, err := e.controlStream("SplitShard", body, &in)
	if err != nil {
		return nil, err
	}
	if in.ShardToSplit == nil || in.NewStartingHashKey == nil {
		return nil, invalidArg("ShardToSplit and NewStartingHashKey are required")
	}
	key, ok := parseHashKey(*in.NewStartingHashKey)
	if !ok {
		return nil, invalidArg("NewStartingHashKey %q is not a hash key (0 to 2^128-1)", *in.NewStartingHashKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nowMs := e.nowMs()
	sh, aerr := s.lookupShard(*in.ShardToSplit, nowMs)
	if aerr != nil {
		return nil, aerr
	}
	if sh.closed {
		return nil, newErr(errResourceInUse, "Shard %s in stream %s under account %s is not open (already split or merged).", sh.id, s.name, e.account)
	}
	if key.cmp(sh.start) <= 0 || key.cmp(sh.end) > 0 {
		return nil, invalidArg("NewStartingHashKey %s must be greater than %s and at most %s, the hash key range of %s", *in.NewStartingHashKey, sh.startKey, sh.endKey, sh.id)
	}
	if len(s.shards)+2 > maxShardsPerStream*2 {
		return nil, newErr(errLimitExceeded, "stream %s has too many shards", s.name)
	}
	lo, hi := s.split(sh, key, nowMs, e.seq.Load())
	s.rebuildOpen()
	e.log.Info("kinesis shard split", "stream", s.name, "parent", sh.id, "children", []string{lo.id, hi.id})
	return emptyOutput, nil
}

func (e *Emulator) opMergeShards(body []byte) ([]byte, error) {
	var in struct {
		streamRef
		ShardToMerge         *string `json:"ShardToMerge"`
		AdjacentShardToMerge *string `json:"AdjacentShardToMerge"`
	}
	s, err := e.controlStream("MergeShards", body, &in)
	if err != nil {
		return nil, err
	}
	if in.ShardToMerge == nil || in.AdjacentShardToMerge == nil {
		return nil, invalidArg("ShardToMerge and AdjacentShardToMerge are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nowMs := e.nowMs()
	a, aerr := s.lookupShard(*in.ShardToMerge, nowMs)
	if aerr != nil {
		return nil, aerr
	}
	b, berr := s.lookupShard(*in.AdjacentShardToMerge, nowMs)
	if berr != nil {
		return nil, berr
	}
	for _, sh := range []*shard{a, b} {
		if sh.closed {
			return nil, newErr(errResourceInUse, "Shard %s in stream %s under account %s is not open (already split or merged).", sh.id, s.name, e.account)
		}
	}
	if a == b || !adjacent(a, b) {
		return nil, invalidArg("Shards %s and %s are not adjacent (their hash key ranges do not touch)", a.id, b.id)
	}
	child := s.merge(a, b, nowMs, e.seq.Load())
	s.rebuildOpen()
	e.log.Info("kinesis shards merged", "stream", s.name, "parents", []string{a.id, b.id}, "child", child.id)
	return emptyOutput, nil
}

func (e *Emulator) opUpdateShardCount(body []byte) ([]byte, error) {
	var in struct {
		streamRef
		TargetShardCount *int   `json:"TargetShardCount"`
		ScalingType      string `json:"ScalingType"`
	}
	s, err := e.controlStream("UpdateShardCount", body, &in)
	if err != nil {
		return nil, err
	}
	if in.ScalingType != "UNIFORM_SCALING" {
		return nil, invalidArg("ScalingType must be UNIFORM_SCALING, got %q", in.ScalingType)
	}
	if in.TargetShardCount == nil || *in.TargetShardCount < 1 {
		return nil, invalidArg("TargetShardCount must be at least 1")
	}
	target := *in.TargetShardCount
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode != modeProvisioned {
		return nil, invalidArg("UpdateShardCount is only supported for PROVISIONED streams; %s is %s", s.name, s.mode)
	}
	current := s.openCount()
	nowMs := e.nowMs()
	if target > maxShardsPerStream {
		return nil, newErr(errLimitExceeded, "TargetShardCount %d exceeds %d shards per stream", target, maxShardsPerStream)
	}
	if s.limits {
		if target > 2*current || 2*target < current {
			return nil, newErr(errLimitExceeded, "TargetShardCount %d is outside [%d, %d]: UpdateShardCount can at most double or halve the %d open shards", target, (current+1)/2, 2*current, current)
		}
		recent := s.scalings[:0]
		for _, t := range s.scalings {
			if nowMs-t < 24*3600*1000 {
				recent = append(recent, t)
			}
		}
		s.scalings = recent
		if len(s.scalings) >= scalingsPer24h {
			return nil, newErr(errLimitExceeded, "stream %s was already scaled %d times in the last 24 hours", s.name, scalingsPer24h)
		}
	}
	s.scalings = append(s.scalings, nowMs)
	s.reshardUniform(target, nowMs, e.seq.Load())
	e.log.Info("kinesis shard count updated", "stream", s.name, "from", current, "to", target)
	return encode(map[string]any{
		"StreamName":        s.name,
		"StreamARN":         s.arn,
		"CurrentShardCount": current,
		"TargetShardCount":  target,
	})
}

func (e *Emulator) opIncreaseRetention(body []byte) ([]byte, error) {
	return e.changeRetention(body, "IncreaseStreamRetentionPeriod", true)
}

func (e *Emulator) opDecreaseRetention(body []byte) ([]byte, error) {
	return e.changeRetention(body, "DecreaseStreamRetentionPeriod", false)
}

func (e *Emulator) changeRetention(body []byte, op string, increase bool) ([]byte, error) {
	var in struct {
		streamRef
		RetentionPeriodHours *int `json:"RetentionPeriodHours"`
	}
	s, err := e.controlStream(op, body, &in)
	if err != nil {
		return nil, err
	}
	if in.RetentionPeriodHours == nil {
		return nil, invalidArg("RetentionPeriodHours is required")
	}
	h := *in.RetentionPeriodHours
	if h < minRetentionHours || h > maxRetentionHours {
		return nil, invalidArg("RetentionPeriodHours %d must be between %d and %d", h, minRetentionHours, maxRetentionHours)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if increase && h < s.retentionHours {
		return nil, invalidArg("Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API.", h, s.name, s.retentionHours)
	}
	if !increase && h > s.retentionHours {
		return nil, invalidArg("Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API.", h, s.name, s.retentionHours)
	}
	// Data already past retention stays gone when retention grows, as in AWS:
	// pin the current trim point before switching.
	s.trimFloorMs = s.trimPoint(e.nowMs())
	s.retentionHours = h
	return emptyOutput, nil
}
