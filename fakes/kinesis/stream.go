package kinesis

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// record is one stored data record. It is never modified after it is
// appended, so readers may keep sub-slices of a shard's record slice after
// releasing the stream lock.
type record struct {
	counter uint64 // global sequence counter (see seq.go)
	arrival int64  // ApproximateArrivalTimestamp, unix milliseconds
	key     string
	data    []byte
}

func (r *record) size() int { return len(r.data) + len(r.key) }

type shard struct {
	idx               int
	id                string
	start, end        u128
	startKey, endKey  string // decimal forms, cached for describe calls
	parent, adjParent string
	startCounter      uint64
	createdMs         int64
	closed            bool
	closedMs          int64
	endCounter        uint64
	children          []*shard

	// recs is ordered by counter and by arrival. Retention trimming reslices
	// from the front; appends never touch elements below len.
	recs []record

	// Production-limit buckets, guarded by the stream lock.
	writeBytes, writeRecs, readCalls, readBytes, iterCalls bucket
}

func shardName(idx int) string { return fmt.Sprintf("shardId-%012d", idx) }

// openAt reports whether the shard was open at instant t (ms).
func (sh *shard) openAt(t int64) bool {
	return sh.createdMs <= t && (!sh.closed || sh.closedMs > t)
}

type stream struct {
	mu sync.Mutex

	name, arn      string
	id             uint64 // emulator-unique; a re-created stream gets a new one
	createdMs      int64
	mode           string // modeProvisioned | modeOnDemand
	retentionHours int
	trimFloorMs    int64 // TrimBefore: records older than this are gone
	maxRecordBytes int
	limits         bool

	shards   []*shard // every shard ever created; index == shard number
	open     []*shard // open shards sorted by starting hash key
	scalings []int64  // ms of recent UpdateShardCount calls
	// modeSwitches are the ms of recent UpdateStreamMode changes.
	modeSwitches []int64

	listShards bucket
}

// trimPoint is the instant before which records are past retention (or were
// dropped by TrimBefore).
func (s *stream) trimPoint(nowMs int64) int64 {
	t := nowMs - int64(s.retentionHours)*3600*1000
	if s.trimFloorMs > t {
		t = s.trimFloorMs
	}
	return t
}

// expired reports whether a closed shard has aged out: every record it could
// hold arrived before it closed, so once the trim point passes the close time
// the shard is gone from ListShards/DescribeStream, as in AWS.
func (s *stream) expired(sh *shard, nowMs int64) bool {
	if !sh.closed || sh.closedMs >= s.trimPoint(nowMs) {
		return false
	}
	sh.recs = nil // release memory; nothing can read it any more
	return true
}

func (s *stream) visibleShards(nowMs int64) []*shard {
	out := make([]*shard, 0, len(s.shards))
	for _, sh := range s.shards {
		if !s.expired(sh, nowMs) {
			out = append(out, sh)
		}
	}
	return out
}

// lookupShard finds a non-expired shard by id ("shardId-000000000001"; the
// bare number is accepted too, as the Kinesis API does).
func (s *stream) lookupShard(id string, nowMs int64) (*shard, *apiError) {
	num := strings.TrimPrefix(id, "shardId-")
	n, err := strconv.Atoi(num)
	if err == nil && n >= 0 && n < len(s.shards) && !s.expired(s.shards[n], nowMs) {
		return s.shards[n], nil
	}
	return nil, newErr(errResourceNotFound, "Shard %s in stream %s under account %s does not exist", id, s.name, accountOf(s.arn))
}

func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

func (s *stream) addShard(start, end u128, parent, adj string, nowMs int64, counter uint64) *shard {
	sh := &shard{
		idx:          len(s.shards),
		start:        start,
		end:          end,
		startKey:     start.String(),
		endKey:       end.String(),
		parent:       parent,
		adjParent:    adj,
		startCounter: counter,
		createdMs:    nowMs,
	}
	sh.id = shardName(sh.idx)
	s.shards = append(s.shards, sh)
	return sh
}

func (s *stream) closeShard(sh *shard, nowMs int64, counter uint64) {
	sh.closed = true
	sh.closedMs = nowMs
	sh.endCounter = counter
}

func (s *stream) rebuildOpen() {
	s.open = s.open[:0]
	for _, sh := range s.shards {
		if !sh.closed {
			s.open = append(s.open, sh)
		}
	}
	sort.Slice(s.open, func(i, j int) bool { return s.open[i].start.cmp(s.open[j].start) < 0 })
}

// route returns the open shard whose hash key range contains h.
func (s *stream) route(h u128) *shard {
	i := sort.Search(len(s.open), func(i int) bool { return s.open[i].start.cmp(h) > 0 })
	if i == 0 {
		return nil
	}
	sh := s.open[i-1]
	if sh.end.cmp(h) < 0 {
		return nil
	}
	return sh
}

// split closes parent and creates the two children [start, key-1] and
// [key, end].
func (s *stream) split(parent *shard, key u128, nowMs int64, counter uint64) (*shard, *shard) {
	s.closeShard(parent, nowMs, counter)
	lo := s.addShard(parent.start, key.sub1(), parent.id, "", nowMs, counter)
	hi := s.addShard(key, parent.end, parent.id, "", nowMs, counter)
	parent.children = []*shard{lo, hi}
	return lo, hi
}

// merge closes a and b (adjacent) and creates their child; a is the
// ParentShardId, b the AdjacentParentShardId.
func (s *stream) merge(a, b *shard, nowMs int64, counter uint64) *shard {
	s.closeShard(a, nowMs, counter)
	s.closeShard(b, nowMs, counter)
	start, end := a.start, b.end
	if b.start.cmp(a.start) < 0 {
		start, end = b.start, a.end
	}
	child := s.addShard(start, end, a.id, b.id, nowMs, counter)
	a.children = []*shard{child}
	b.children = []*shard{child}
	return child
}

func adjacent(a, b *shard) bool {
	return (a.end != maxHashKey && a.end.add1() == b.start) || (b.end != maxHashKey && b.end.add1() == a.start)
}

// reshardUniform moves the open shards to target shards of equal size the way
// UpdateShardCount(UNIFORM_SCALING) does conceptually: split every open shard
// that straddles a target boundary, then merge the pieces inside each target
// range pairwise. Every new shard therefore has one parent (split) or two
// adjacent parents (merge); short-lived intermediate shards are created and
// closed at the same instant, just like AWS's temporary shards.
//
// Both phases walk the sorted open shards once (splits in boundary order,
// then merge rounds range by range), so scaling 10,000 shards takes
// milliseconds under the stream lock rather than a rebuild per step.
func (s *stream) reshardUniform(target int, nowMs int64, counter uint64) {
	starts := evenStarts(target)
	// Phase 1: cut each open shard at every target boundary strictly inside
	// it. s.open is sorted by starting hash key and tiles the key space.
	pieces := make([]*shard, 0, len(s.open)+target)
	next := 1 // index of the next boundary in starts
	for _, sh := range s.open {
		cur := sh
		for next < len(starts) && starts[next].cmp(cur.end) <= 0 {
			b := starts[next]
			next++
			if b == cur.start {
				continue // already aligned
			}
			lo, hi := s.split(cur, b, nowMs, counter)
			pieces = append(pieces, lo)
			cur = hi
		}
		pieces = append(pieces, cur)
	}
	// Phase 2: within each target range, merge neighbours pairwise, round
	// after round, until one shard is left.
	i := 0
	for r := range starts {
		hi := maxHashKey
		if r+1 < len(starts) {
			hi = starts[r+1].sub1()
		}
		j := i
		for j < len(pieces) && pieces[j].end.cmp(hi) <= 0 {
			j++
		}
		run := pieces[i:j:j]
		for len(run) > 1 {
			merged := make([]*shard, 0, (len(run)+1)/2)
			for k := 0; k+1 < len(run); k += 2 {
				merged = append(merged, s.merge(run[k], run[k+1], nowMs, counter))
			}
			if len(run)%2 == 1 {
				merged = append(merged, run[len(run)-1])
			}
			run = merged
		}
		i = j
	}
	s.rebuildOpen()
}

func (s *stream) shardJSON(sh *shard) shardJSON {
	out := shardJSON{
		ShardId:               sh.id,
		ParentShardId:         sh.parent,
		AdjacentParentShardId: sh.adjParent,
		HashKeyRange:          hashKeyRangeJSON{StartingHashKey: sh.startKey, EndingHashKey: sh.endKey},
		SequenceNumberRange:   seqRangeJSON{StartingSequenceNumber: formatSeq(sh.startCounter, s.id, sh.idx)},
	}
	if sh.closed {
		out.SequenceNumberRange.EndingSequenceNumber = formatSeq(sh.endCounter, s.id, sh.idx)
	}
	return out
}

func (s *stream) childShardsJSON(sh *shard) []childShardJSON {
	out := make([]childShardJSON, 0, len(sh.children))
	for _, c := range sh.children {
		parents := []string{c.parent}
		if c.adjParent != "" {
			parents = append(parents, c.adjParent)
		}
		slices.Sort(parents)
		out = append(out, childShardJSON{
			ShardId:      c.id,
			ParentShards: parents,
			HashKeyRange: hashKeyRangeJSON{StartingHashKey: c.startKey, EndingHashKey: c.endKey},
		})
	}
	return out
}

func (s *stream) openCount() int { return len(s.open) }
