package bench

// Read limits the emulator enforces per shard with limits on.
const (
	readBytesPerShard = 2 << 20 // bytes/s
	readCallsPerShard = 5       // GetRecords/s

	maxGetRecords      = 10_000   // records per GetRecords (also the replicator's default)
	maxGetRecordsBytes = 10 << 20 // bytes per GetRecords, as the emulator caps it
)

// readLimit fills the limits-on fields: the read rates the emulator
// allows, the catch-up rate as a fraction of them, and the fewest seconds
// the limits allow this backlog.
func readLimit(c Case, res *Result) {
	bytesLimit := float64(c.Shards) * readBytesPerShard / 1e6
	res.ReadLimitMBPerSecond = round(bytesLimit, 3)
	limit := bytesLimit
	if res.RecordsPerCall > 0 {
		callsLimit := float64(c.Shards) * readCallsPerShard * res.RecordsPerCall * float64(c.RecordBytes) / 1e6
		res.CallsLimitMBPerSecond = round(callsLimit, 3)
		limit = min(limit, callsLimit)
	}
	res.ReadLimitRatio = round(res.MBPerSecond/limit, 3)
	floor := readFloor(c)
	secs, ratio := round(floor, 3), round(floor/res.CatchupSeconds, 3)
	res.ReadLimitFloorSeconds, res.ReadLimitFloorRatio = &secs, &ratio
}

// readFloor is the fewest seconds the emulator's read limits allow the
// fullest shard's backlog. Its buckets start full (one second's worth) and
// an admitted GetRecords is charged after it returns, up to 10,000 records
// or 10 MB, so a backlog of a few seconds' reads goes faster than 2 MiB/s
// (read_limit_ratio above 1); this floor counts both.
func readFloor(c Case) float64 {
	const keyBytes = 6 // partition keys are "k" and the record id
	recs := (c.Records + c.Shards - 1) / c.Shards
	size := c.RecordBytes + keyBytes
	perCall := min(maxGetRecords, max(maxGetRecordsBytes/size, 1))
	calls := (recs + perCall - 1) / perCall
	last := min(recs, perCall) * size // the last call's bytes, charged after
	byBytes := float64(recs*size-last-readBytesPerShard) / readBytesPerShard
	byCalls := float64(calls-readCallsPerShard) / readCallsPerShard
	return max(byBytes, byCalls, 0)
}

// tailRate is the steady write rate after the catch-up: the asked rate,
// within the MB/s cap and, with limits on, within 80% of the shards' write
// limits (1,000 records/s and 1 MiB/s each) so the writes are not
// throttled.
func tailRate(cfg Config, c Case) float64 {
	r := float64(cfg.TailRate)
	if cfg.TailMBps > 0 {
		r = min(r, cfg.TailMBps*1e6/float64(c.RecordBytes))
	}
	if c.Limits {
		perShard := min(1000, float64(1<<20)/float64(c.RecordBytes+24))
		r = min(r, 0.8*float64(c.Shards)*perShard)
	}
	return r
}
