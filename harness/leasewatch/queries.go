package leasewatch

import (
	"errors"
	"maps"
	"slices"
	"time"
)

func asNotFound(err error, target any) bool { return errors.As(err, target) }

// CheckpointAt returns a shard's row as last seen at or before t (a zero
// Row, that is before any record, when none was seen).
func (w *Watcher) CheckpointAt(shard string, t time.Time) Row {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out Row
	for _, h := range w.history[shard] {
		if h.t.After(t) {
			break
		}
		out = h.r
	}
	return out
}

// Forget drops what the watcher knows of a shard whose row the harness
// deleted or damaged, so its re-creation is not taken for a regression; it
// counts as a reset (its checkpoint was lost).
func (w *Watcher) Forget(shard string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.checkpoints, shard)
	delete(w.owners, shard)
	delete(w.counters, shard)
	delete(w.history, shard)
	w.resets[shard]++
	w.generation++
}

// ForgetAll forgets every shard ever seen, after the harness emptied the
// table. It must not rely on the latest scan: a scan that ran while rows
// were being deleted one by one lacks the rows already gone.
func (w *Watcher) ForgetAll() {
	w.mu.Lock()
	shards := slices.Collect(maps.Keys(w.checkpoints))
	for id := range w.owners {
		shards = append(shards, id)
	}
	w.mu.Unlock()
	slices.Sort(shards)
	for _, id := range slices.Compact(shards) {
		w.Forget(id)
	}
}

// Hold makes the watcher drop its scans until release is called, which
// then forgets every shard: for a rewrite of the rows by something other
// than the bridge at work (an operator reset), whose checkpoints going back
// must not be taken for regressions, not even half-way through.
func (w *Watcher) Hold() (release func()) {
	w.mu.Lock()
	w.holding = true
	w.generation++
	w.mu.Unlock()
	return func() {
		w.ForgetAll()
		w.mu.Lock()
		w.holding = false
		w.mu.Unlock()
	}
}

// Resets counts, per shard, how often the harness deleted or damaged its row.
func (w *Watcher) Resets() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.resets)
}

// Rows returns the last scan's rows (corrupt ones left out: see Corrupt).
func (w *Watcher) Rows() []Row {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.latest)
}

// Row returns the last scanned row of a shard.
func (w *Watcher) Row(shard string) (Row, bool) {
	for _, r := range w.Rows() {
		if r.Shard == shard {
			return r, true
		}
	}
	return Row{}, false
}

// Corrupt returns, per shard, why its row did not decode (first sighting).
func (w *Watcher) Corrupt() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.corrupt)
}

// Changes returns every holder change and lapse seen.
func (w *Watcher) Changes() []Change {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.changes)
}

// Ownership is every owner the watcher saw each lease pass to, in order,
// the first owner of each row included (Changes leaves those out: they are
// not moves): the lease timeline of the HTML report.
func (w *Watcher) Ownership() []Change {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ownership)
}

// Moves counts owner changes from one worker straight to another (a steal
// or a takeover of an expired lease), as opposed to take-ups of unowned
// leases, releases and lapses.
func (w *Watcher) Moves() int {
	n := 0
	for _, c := range w.Changes() {
		if c.From != "" && c.To != "" && !c.Lapse {
			n++
		}
	}
	return n
}

// Regressions lists checkpoints that went backwards.
func (w *Watcher) Regressions() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.regressions)
}

// FirstOwned reports when a shard's lease was first seen with an owner.
func (w *Watcher) FirstOwned(shard string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.firstOwned[shard]
	return t, ok
}

// Finished reports when a shard's lease was first seen at SHARD_END.
func (w *Watcher) Finished(shard string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.finished[shard]
	return t, ok
}

// FirstRow returns the first row of a shard seen since the watcher started
// or last forgot the shard (Forget): after a deletion, how the row came back.
func (w *Watcher) FirstRow(shard string) (Row, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.history[shard]
	if len(h) == 0 {
		return Row{}, false
	}
	return h[0].r, true
}
