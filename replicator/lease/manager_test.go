package lease

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shardbridge/shardbridge/fakes/clock"
)

var bg = context.Background()

func TestEnsureTableCreatesAndWaitsForActive(t *testing.T) {
	ddb := newFakeDDB()
	ddb.creating = 3 // the table stays CREATING for three describes
	m := NewManager(ddb, "t1", "w1", WithLogger(testLogger()), WithSleep(func(context.Context, time.Duration) error { return nil }))
	if err := m.EnsureTable(bg); err != nil {
		t.Fatal(err)
	}
	if ddb.calls["CreateTable"] != 1 || ddb.calls["DescribeTable"] != 5 {
		t.Fatalf("calls = %v, want 1 create and 5 describes (missing, 3×creating, active)", ddb.calls)
	}
	// Idempotent: a second worker finds it and creates nothing.
	m2 := NewManager(ddb, "t1", "w2", WithLogger(testLogger()))
	if err := m2.EnsureTable(bg); err != nil {
		t.Fatal(err)
	}
	if ddb.calls["CreateTable"] != 1 {
		t.Fatalf("table created twice: %v", ddb.calls)
	}
	// The lease table is usable.
	if ok, err := m.CreateLease(bg, Lease{ShardID: "s", Checkpoint: Latest}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := m.CreateLease(bg, Lease{ShardID: "s", Checkpoint: TrimHorizon}); err != nil || ok {
		t.Fatalf("second create: %v %v, want false nil", ok, err)
	}
	if l, _, _ := m.Get(bg, "s"); l.Checkpoint != Latest {
		t.Fatalf("existing lease overwritten: %+v", l)
	}
	if _, err := m.CreateLease(bg, Lease{ShardID: "x"}); err == nil {
		t.Fatal("lease without checkpoint accepted")
	}
}

func TestEnsureTableGivesUpWithContext(t *testing.T) {
	ddb := newFakeDDB()
	ddb.creating = 1 << 30
	ctx, cancel := context.WithCancel(bg)
	n := 0
	m := NewManager(ddb, "t1", "w1", WithLogger(testLogger()), WithSleep(func(ctx context.Context, _ time.Duration) error {
		if n++; n == 5 {
			cancel()
		}
		return ctx.Err()
	}))
	if err := m.EnsureTable(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRowFormatMatchesKCL(t *testing.T) {
	e := newEnv(t)
	m, _ := e.manager("w1")
	_, err := m.CreateLease(bg, Lease{ShardID: "c", Checkpoint: TrimHorizon, ParentShardIDs: []string{"p2", "p1", "p1"},
		StartingHashKey: "0", EndingHashKey: "340282366920938463463374607431768211455"})
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]types.AttributeValue
	e.ddb.raw(testTable, "c", func(tb map[string]map[string]types.AttributeValue) { raw = copyItem(tb["c"]) })
	want := map[string]string{
		"leaseKey": "S", "leaseCounter": "N", "checkpoint": "S", "checkpointSubSequenceNumber": "N",
		"ownerSwitchesSinceCheckpoint": "N", "parentShardId": "SS", "startingHashKey": "S", "endingHashKey": "S",
	}
	for name, typ := range want {
		v, ok := raw[name]
		if !ok {
			t.Fatalf("attribute %s missing: %v", name, raw)
		}
		got := strings.TrimPrefix(fmt.Sprintf("%T", v), "*types.AttributeValueMember")
		if got != typ {
			t.Errorf("%s is %s, want %s", name, got, typ)
		}
	}
	if _, ok := raw["leaseOwner"]; ok {
		t.Error("unowned lease has a leaseOwner attribute")
	}
	if got := raw["parentShardId"].(*types.AttributeValueMemberSS).Value; !slices.Equal(got, []string{"p1", "p2"}) {
		t.Errorf("parents = %v", got)
	}
}

func TestSingleWorkerTakesAllUnownedAtOnce(t *testing.T) {
	e := newEnv(t)
	ids := e.createLeases(5)
	m, _ := e.manager("w1")
	e.round(m)
	if got := heldIDs(m); !slices.Equal(got, ids) {
		t.Fatalf("held %v, want %v", got, ids)
	}
	evs := drain(m)
	if len(evs) != 5 || len(kinds(evs, Acquired)) != 5 {
		t.Fatalf("events %+v", evs)
	}
	for _, id := range ids {
		l := e.row(id)
		if l.Owner != "w1" || l.Counter != 1 || l.OwnerSwitchesSinceCheckpoint != 0 {
			t.Fatalf("row after take: %+v", l)
		}
	}
	e.round(m)
	if l := e.row(ids[0]); l.Counter != 2 {
		t.Fatalf("renewal did not bump the counter: %+v", l)
	}
	if s := m.Stats(); s.Held != 5 || s.Taken != 5 || s.Renewals != 5 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWorkersConvergeToBalancedSplit(t *testing.T) {
	for _, tc := range []struct{ workers, leases int }{{2, 7}, {3, 10}, {3, 12}, {3, 2}, {4, 10}} {
		t.Run(fmt.Sprintf("%dworkers_%dleases", tc.workers, tc.leases), func(t *testing.T) {
			e := newEnv(t)
			e.createLeases(tc.leases)
			var ms []*Manager
			for i := range tc.workers {
				m, _ := e.manager(fmt.Sprintf("w%d", i+1), WithSeed(int64(i)))
				ms = append(ms, m)
			}
			// The first worker starts alone and takes everything; the others join.
			e.round(ms[0])
			if got := counts(ms...)[0]; got != tc.leases {
				t.Fatalf("first worker holds %d", got)
			}
			rounds := 0
			for ; rounds < 60 && !balanced(tc.leases, counts(ms...)); rounds++ {
				e.round(ms...)
				e.checkExclusive(ms...)
			}
			if !balanced(tc.leases, counts(ms...)) {
				t.Fatalf("not balanced after %d rounds: %v", rounds, counts(ms...))
			}
			t.Logf("balanced %v after %d rounds", counts(ms...), rounds)
			for _, m := range ms {
				drain(m)
			}
			// Stable: no lease moves once balanced.
			for range 12 {
				e.round(ms...)
			}
			e.checkExclusive(ms...)
			for _, m := range ms {
				if evs := drain(m); len(evs) != 0 {
					t.Fatalf("%s: leases still moving after balance: %+v", m.WorkerID(), evs)
				}
			}
		})
	}
}

func TestExpiryIsCounterBasedAndLocal(t *testing.T) {
	e := newEnv(t)
	e.createLeases(1)
	id := shardID(0)
	w1, _ := e.manager("w1")
	// w2's clock is an hour ahead of w1's: expiry must not compare clocks.
	clk2 := clock.NewManual(t0.Add(time.Hour))
	w2, _ := e.manager("w2", WithClock(clk2))
	tick2 := func() {
		if err := w2.Tick(bg); err != nil {
			t.Fatal(err)
		}
	}

	e.round(w1)
	// While w1 renews, w2 never takes the lease, however long it watches.
	for range 30 {
		tick2()
		clk2.Advance(testFailover / 3)
		e.round(w1)
	}
	if w2.Holds(id) || !w1.Holds(id) {
		t.Fatal("lease moved while its owner renewed it")
	}

	// w1 stops. w2 first sees the now-frozen counter at its next tick.
	tick2()
	firstSeen := clk2.Now()
	var tookAt time.Time
	for step := time.Second; tookAt.IsZero() && clk2.Now().Sub(firstSeen) < 3*testFailover; {
		clk2.Advance(step)
		tick2()
		if w2.Holds(id) {
			tookAt = clk2.Now()
		}
	}
	if tookAt.IsZero() {
		t.Fatal("w2 never took the expired lease")
	}
	if waited := tookAt.Sub(firstSeen); waited < testFailover || waited > testFailover+time.Second {
		t.Fatalf("w2 took the lease after %s of local observation, want failover %s", waited, testFailover)
	}
	evs := kinds(drain(w2), Acquired)
	if len(evs) != 1 || evs[0].Peer != "w1" || !strings.Contains(evs[0].Reason, "expired") {
		t.Fatalf("w2 events %+v", evs)
	}
	if l := e.row(id); l.Owner != "w2" || l.OwnerSwitchesSinceCheckpoint != 1 {
		t.Fatalf("row %+v, want owner w2 with one owner switch", l)
	}
}

func TestZombieCheckpointRefused(t *testing.T) {
	e := newEnv(t)
	e.createLeases(1)
	id := shardID(0)
	w1, _ := e.manager("w1")
	w2, _ := e.manager("w2")
	e.round(w1)
	if err := w1.Checkpoint(bg, id, "100", 0); err != nil {
		t.Fatal(err)
	}
	drain(w1)
	// w1 pauses (GC, network partition) and stops renewing; w2 takes over.
	for i := 0; i < 10 && !w2.Holds(id); i++ {
		e.round(w2)
	}
	if !w2.Holds(id) {
		t.Fatal("w2 did not take the lease")
	}
	if l := e.row(id); l.OwnerSwitchesSinceCheckpoint != 1 || l.Checkpoint != "100" {
		t.Fatalf("row after takeover %+v", l)
	}
	// The zombie wakes up and checkpoints: refused.
	err := w1.Checkpoint(bg, id, "200", 0)
	if !isLost(err) || !strings.Contains(err.Error(), id) {
		t.Fatalf("zombie checkpoint err = %v, want ErrLeaseLost naming the shard", err)
	}
	evs := drain(w1)
	if len(evs) != 1 || evs[0].Kind != Lost || evs[0].Peer != "w2" || !strings.Contains(evs[0].Reason, "taken by w2") {
		t.Fatalf("zombie events %+v", evs)
	}
	if w1.Holds(id) {
		t.Fatal("zombie still thinks it holds the lease")
	}
	if l := e.row(id); l.Checkpoint != "100" || l.Owner != "w2" {
		t.Fatalf("zombie checkpoint landed: %+v", l)
	}
	// Further attempts fail fast without touching the table.
	if err := w1.Checkpoint(bg, id, "300", 0); !isLost(err) {
		t.Fatalf("second zombie checkpoint err = %v", err)
	}
	// The new owner's checkpoint works and resets the owner-switch count.
	if err := w2.Checkpoint(bg, id, "150", 3); err != nil {
		t.Fatal(err)
	}
	if l := e.row(id); l.Checkpoint != "150" || l.SubSequence != 3 || l.OwnerSwitchesSinceCheckpoint != 0 {
		t.Fatalf("row after new owner's checkpoint %+v", l)
	}
	// The zombie's next round does not resurrect it.
	e.round(w1, w2)
	if w1.Holds(id) || !w2.Holds(id) {
		t.Fatal("ownership changed after the zombie's round")
	}
}

func TestStealsOneAtATimeFromMostLoaded(t *testing.T) {
	e := newEnv(t)
	e.createLeases(12)
	w1, _ := e.manager("w1")
	w2, _ := e.manager("w2", WithMaxLeasesForWorker(5))
	w3, _ := e.manager("w3")
	e.round(w1)
	for range 10 {
		e.round(w1, w2)
	}
	if c := counts(w1, w2); c[0] != 7 || c[1] != 5 {
		t.Fatalf("setup counts %v, want [7 5]", c)
	}
	drain(w1)
	drain(w2)

	// w3 joins: target 4. Each round it steals exactly one lease, from the
	// most loaded worker (ties broken by the smaller id).
	wantVictims := []string{"w1", "w1", "w1", "w2"}
	for i, victim := range wantVictims {
		e.round(w1, w2, w3)
		evs := drain(w3)
		if len(evs) != 1 || evs[0].Kind != Stolen || evs[0].Peer != victim {
			t.Fatalf("round %d: w3 events %+v, want one steal from %s (counts %v)", i, evs, victim, counts(w1, w2, w3))
		}
		if l := e.row(evs[0].Lease.ShardID); l.OwnerSwitchesSinceCheckpoint < 1 || l.OwnerSwitchesSinceCheckpoint != evs[0].Lease.OwnerSwitchesSinceCheckpoint {
			t.Fatalf("stolen lease row %+v, event %+v", l, evs[0].Lease)
		}
	}
	e.round(w1, w2, w3) // the victims notice on renewal
	if c := counts(w1, w2, w3); !slices.Equal(c, []int{4, 4, 4}) {
		t.Fatalf("counts %v, want [4 4 4]", c)
	}
	lost1, lost2 := kinds(drain(w1), Lost), kinds(drain(w2), Lost)
	if len(lost1) != 3 || len(lost2) != 1 || !strings.Contains(lost1[0].Reason, "taken by w3") {
		t.Fatalf("lost events w1 %+v w2 %+v", lost1, lost2)
	}
	e.checkExclusive(w1, w2, w3)
}

func TestStealAtOnceLimit(t *testing.T) {
	e := newEnv(t)
	e.createLeases(9)
	w1, _ := e.manager("w1")
	w2, _ := e.manager("w2", WithMaxLeasesToStealAtOnce(2))
	e.round(w1)
	e.round(w1, w2) // target 5: w2 steals min(2, need 5, 9-5=4) = 2
	if c := counts(w1, w2); c[1] != 2 {
		t.Fatalf("counts %v after one round, want w2=2", c)
	}
	e.round(w1, w2)
	e.round(w1, w2)
	if c := counts(w1, w2); !slices.Equal(c, []int{5, 4}) {
		t.Fatalf("counts %v, want [5 4]", c)
	}
}

func TestShardEndCreatesChildrenAndSplitChildrenFollowParent(t *testing.T) {
	e := newEnv(t)
	e.createLeases(1)
	parent := shardID(0)
	w1, _ := e.manager("w1")
	w2, _ := e.manager("w2")
	e.round(w1, w2)
	owner := w1
	if !w1.Holds(parent) {
		owner = w2
	}
	drain(owner)
	kids := []ChildShard{
		{ShardID: "child-a", ParentShardIDs: []string{parent}, StartingHashKey: "0", EndingHashKey: "99"},
		{ShardID: "child-b", StartingHashKey: "100", EndingHashKey: "199"}, // parent implied
	}
	if err := owner.CheckpointShardEnd(bg, parent, kids); err != nil {
		t.Fatal(err)
	}
	p := e.row(parent)
	if p.Checkpoint != ShardEnd || !slices.Equal(p.ChildShardIDs, []string{"child-a", "child-b"}) {
		t.Fatalf("parent row %+v", p)
	}
	for _, k := range kids {
		c := e.row(k.ShardID)
		if c.Checkpoint != TrimHorizon || !slices.Equal(c.ParentShardIDs, []string{parent}) || c.Owner != "" ||
			c.StartingHashKey != k.StartingHashKey || c.EndingHashKey != k.EndingHashKey {
			t.Fatalf("child row %+v", c)
		}
	}
	if owner.Holds(parent) {
		t.Fatal("finished parent still held")
	}
	if evs := drain(owner); len(evs) != 1 || evs[0].Kind != Released || evs[0].Reason != "shard end" {
		t.Fatalf("events %+v", evs)
	}
	// Idempotent: a second shard-end (e.g. a retry) is refused as not held, and
	// recreating children changes nothing.
	if err := owner.CheckpointShardEnd(bg, parent, kids); !isLost(err) {
		t.Fatalf("second shard end err = %v", err)
	}
	for range 3 {
		e.round(w1, w2)
	}
	// The children are split one each; the finished parent is never taken
	// again and does not count toward balance.
	if c := counts(w1, w2); !slices.Equal(c, []int{1, 1}) {
		t.Fatalf("counts %v, want one child each", c)
	}
	if w1.Holds(parent) || w2.Holds(parent) {
		t.Fatal("finished parent taken again")
	}
	if p := e.row(parent); p.Checkpoint != ShardEnd {
		t.Fatalf("parent row changed: %+v", p)
	}
}

func TestMergeChildWaitsForBothParents(t *testing.T) {
	e := newEnv(t)
	e.createLeases(2)
	a, b := shardID(0), shardID(1)
	w1, _ := e.manager("w1")
	w2, _ := e.manager("w2")
	e.round(w1)
	e.round(w1, w2) // w2 steals one: one parent each
	for range 2 {
		e.round(w1, w2)
	}
	ownerOf := func(id string) *Manager {
		if w1.Holds(id) {
			return w1
		}
		if w2.Holds(id) {
			return w2
		}
		t.Fatalf("%s held by nobody", id)
		return nil
	}
	if ownerOf(a) == ownerOf(b) {
		t.Fatalf("setup: both parents on one worker %v", counts(w1, w2))
	}
	merged := ChildShard{ShardID: "merged", ParentShardIDs: []string{a, b}}
	if err := ownerOf(a).CheckpointShardEnd(bg, a, []ChildShard{merged}); err != nil {
		t.Fatal(err)
	}
	for range 6 { // well past failover: the child must still wait for b
		e.round(w1, w2)
		if w1.Holds("merged") || w2.Holds("merged") {
			t.Fatal("merged child taken while one parent is unfinished")
		}
	}
	if c := e.row("merged"); !slices.Equal(c.ParentShardIDs, []string{a, b}) {
		t.Fatalf("child parents %v", c.ParentShardIDs)
	}
	bOwner := ownerOf(b)
	if err := bOwner.CheckpointShardEnd(bg, b, []ChildShard{merged}); err != nil {
		t.Fatal(err) // child already exists: conditional create is a no-op
	}
	e.round(w1, w2)
	if !w1.Holds("merged") && !w2.Holds("merged") {
		t.Fatal("merged child not taken after both parents finished")
	}
}

func TestParentsDone(t *testing.T) {
	all := []Lease{
		{ShardID: "p1", Checkpoint: ShardEnd},
		{ShardID: "p2", Checkpoint: "123"},
		{ShardID: "p3", Checkpoint: ShardEnd},
	}
	for _, tc := range []struct {
		parents []string
		want    bool
	}{
		{nil, true},
		{[]string{"p1"}, true},
		{[]string{"p2"}, false},
		{[]string{"p1", "p3"}, true},
		{[]string{"p1", "p2"}, false},
		{[]string{"trimmed"}, true},        // parent without a lease never blocks
		{[]string{"trimmed", "p2"}, false}, // but an unfinished one still does
	} {
		if got := ParentsDone(Lease{ShardID: "c", ParentShardIDs: tc.parents}, all); got != tc.want {
			t.Errorf("parents %v: got %v want %v", tc.parents, got, tc.want)
		}
	}
}

func TestMissingParentLeaseDoesNotBlockChild(t *testing.T) {
	e := newEnv(t)
	m, _ := e.manager("w1")
	// The parent was trimmed by retention before it ever got a lease.
	if _, err := m.CreateLease(bg, Lease{ShardID: "child", Checkpoint: TrimHorizon, ParentShardIDs: []string{"trimmed-parent"}}); err != nil {
		t.Fatal(err)
	}
	// A second child whose parent has an unfinished lease waits.
	if _, err := m.CreateLease(bg, Lease{ShardID: "blocked", Checkpoint: TrimHorizon, ParentShardIDs: []string{"live-parent"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateLease(bg, Lease{ShardID: "live-parent", Checkpoint: "5", Owner: "other"}); err != nil {
		t.Fatal(err)
	}
	e.round(m)
	if !m.Holds("child") || m.Holds("blocked") {
		t.Fatalf("held %v", heldIDs(m))
	}
	// Deleting the unfinished parent's lease (cleanup) unblocks its child.
	if err := m.DeleteLease(bg, "live-parent"); err != nil {
		t.Fatal(err)
	}
	e.round(m)
	if !m.Holds("blocked") {
		t.Fatalf("held %v after parent lease deleted", heldIDs(m))
	}
}

func TestEligibleFilter(t *testing.T) {
	e := newEnv(t)
	e.createLeases(3)
	m, _ := e.manager("w1", WithEligible(func(l Lease) bool { return l.ShardID != shardID(1) }))
	e.round(m)
	if got := heldIDs(m); !slices.Equal(got, []string{shardID(0), shardID(2)}) {
		t.Fatalf("held %v", got)
	}
}

func TestCrashBetweenChildCreationAndShardEnd(t *testing.T) {
	e := newEnv(t)
	e.createLeases(1)
	parent := shardID(0)
	w1, f1 := e.manager("w1")
	w2, _ := e.manager("w2")
	e.round(w1)
	// w1 "crashes" after the children are created but before SHARD_END is
	// written: its parent update never reaches the table.
	f1.set(func(op string) error {
		if op == "UpdateItem" {
			return apiErr("ValidationException", "process died")
		}
		return nil
	})
	kids := []ChildShard{{ShardID: "c1"}, {ShardID: "c2"}}
	if err := w1.CheckpointShardEnd(bg, parent, kids); err == nil {
		t.Fatal("shard end succeeded through a dead connection")
	}
	if p := e.row(parent); p.Checkpoint == ShardEnd {
		t.Fatal("parent finished although its update failed")
	}
	// Children exist but must wait: the parent is not finished.
	for i := 0; i < 8 && !w2.Holds(parent); i++ {
		e.round(w2)
		if w2.Holds("c1") || w2.Holds("c2") {
			t.Fatal("child taken before its parent finished")
		}
	}
	if !w2.Holds(parent) {
		t.Fatal("w2 never took over the crashed worker's parent")
	}
	// w2 reads the parent to its end again and finishes it; children are reused.
	if err := w2.CheckpointShardEnd(bg, parent, kids); err != nil {
		t.Fatal(err)
	}
	e.round(w2)
	if !w2.Holds("c1") || !w2.Holds("c2") {
		t.Fatalf("children not taken: %v", heldIDs(w2))
	}
}

func TestDeletedAndCorruptRows(t *testing.T) {
	e := newEnv(t)
	ids := e.createLeases(4)
	m, _ := e.manager("w1")
	e.round(m)
	drain(m)
	const seq = "49000000000000000000000000000000000000000000000000000777"
	if err := m.Checkpoint(bg, ids[0], seq, 3); err != nil {
		t.Fatal(err)
	}

	// An operator deletes one held row and corrupts another.
	e.ddb.raw(testTable, "", func(tb map[string]map[string]types.AttributeValue) {
		delete(tb, ids[0])
		tb[ids[1]][attrCounter] = &types.AttributeValueMemberS{Value: "garbage"}
		// Plus an unowned row missing its checkpoint and one with a bad parent set.
		tb["no-checkpoint"] = map[string]types.AttributeValue{attrKey: str("no-checkpoint"), attrCounter: num(0)}
		tb["bad-parents"] = map[string]types.AttributeValue{
			attrKey: str("bad-parents"), attrCounter: num(0), attrCheckpoint: str(TrimHorizon),
			attrParents: &types.AttributeValueMemberN{Value: "1"},
		}
	})
	if err := m.Tick(bg); err != nil {
		t.Fatalf("tick with corrupt rows: %v", err)
	}
	lost := kinds(drain(m), Lost)
	reasons := map[string]string{}
	for _, ev := range lost {
		reasons[ev.Lease.ShardID] = ev.Reason
	}
	if len(lost) != 2 || reasons[ids[0]] != "lease row deleted; recreated unowned at checkpoint "+seq || !strings.Contains(reasons[ids[1]], "corrupt") {
		t.Fatalf("lost events %+v", lost)
	}
	// The deleted row came back unowned, so the same round took it again.
	if got, want := heldIDs(m), append([]string{ids[0]}, ids[2:]...); !slices.Equal(got, want) {
		t.Fatalf("held %v, want %v", got, want)
	}
	if s := m.Stats(); s.CorruptRows != 3 {
		t.Fatalf("corrupt rows %d, want 3", s.CorruptRows)
	}
	// The deleted row is back at the holder's last checkpoint.
	back, ok, err := m.Get(bg, ids[0])
	if err != nil || !ok || back.Checkpoint != seq || back.SubSequence != 3 {
		t.Fatalf("recreated row %+v %v %v", back, ok, err)
	}
	list, err := m.List(bg)
	if err != nil || len(list) != 3 {
		t.Fatalf("list %v %v, want the 3 good rows", list, err)
	}
	if _, _, err := m.Get(bg, "no-checkpoint"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "no-checkpoint") {
		t.Fatalf("get corrupt err = %v", err)
	}
	// Malformed rows are never taken, rounds keep working.
	for range 5 {
		e.round(m)
	}
	if m.Holds("no-checkpoint") || m.Holds("bad-parents") || m.Holds(ids[1]) {
		t.Fatalf("malformed row taken: %v", heldIDs(m))
	}
	if !m.Holds(ids[0]) {
		t.Fatalf("the recreated row was not taken again: %v", heldIDs(m))
	}
	// Once repaired, the row (still naming w1, which dropped it) expires and
	// is taken again.
	e.ddb.raw(testTable, "", func(tb map[string]map[string]types.AttributeValue) {
		tb[ids[1]][attrCounter] = num(50)
	})
	for range 5 {
		e.round(m)
	}
	if !m.Holds(ids[1]) {
		t.Fatalf("repaired row not taken: %v", heldIDs(m))
	}
}

func TestCorruptParentBlocksChild(t *testing.T) {
	e := newEnv(t)
	m, _ := e.manager("w1")
	if _, err := m.CreateLease(bg, Lease{ShardID: "child", Checkpoint: TrimHorizon, ParentShardIDs: []string{"p"}}); err != nil {
		t.Fatal(err)
	}
	e.ddb.raw(testTable, "", func(tb map[string]map[string]types.AttributeValue) {
		tb["p"] = map[string]types.AttributeValue{attrKey: str("p"), attrCounter: str("x"), attrCheckpoint: str(ShardEnd)}
	})
	e.round(m)
	if m.Holds("child") {
		t.Fatal("child taken while its parent's row is unreadable")
	}
}

func TestThrottledLeaseTableDoesNotFlap(t *testing.T) {
	e := newEnv(t)
	ids := e.createLeases(4)
	w1, f1 := e.manager("w1")
	w2, _ := e.manager("w2")
	e.round(w1)
	for range 3 {
		e.round(w1, w2)
	}
	if c := counts(w1, w2); !slices.Equal(c, []int{2, 2}) {
		t.Fatalf("setup counts %v", c)
	}
	drain(w1)
	drain(w2)
	mine := heldIDs(w1)

	// 1. Bursts of throttling: every write to a row is throttled twice, then
	// passes. Retries within the round absorb it.
	var mu sync.Mutex
	n := map[string]int{}
	f1.setKeyed(func(op, key string) error {
		mu.Lock()
		defer mu.Unlock()
		if n[key]++; n[key]%3 != 0 {
			return throttle(op)
		}
		return nil
	})
	for range 6 {
		e.round(w1, w2)
	}
	f1.setKeyed(nil)
	if s := w1.Stats(); s.Throttles == 0 || s.RenewalFailures != 0 {
		t.Fatalf("stats %+v: want throttles absorbed by retries", s)
	}

	// 2. Renewals throttled outright for two rounds (less than failover):
	// not loss, no flapping; the other worker does not take them.
	f1.set(func(op string) error {
		if op == "UpdateItem" {
			return throttle(op)
		}
		return nil
	})
	for range 2 {
		e.round(w1, w2)
		e.checkExclusive(w1, w2)
	}
	if got := heldIDs(w1); !slices.Equal(got, mine) {
		t.Fatalf("w1 holds %v during short throttling, want %v", got, mine)
	}
	f1.set(nil)
	for range 6 {
		e.round(w1, w2)
	}
	if evs := append(drain(w1), drain(w2)...); len(evs) != 0 {
		t.Fatalf("leases flapped under throttling: %+v", evs)
	}
	if s := w1.Stats(); s.RenewalFailures == 0 {
		t.Fatal("renewal failures not counted")
	}

	// 3. Throttled longer than failover: w1 cannot prove it holds its leases,
	// drops them ("renewal failing") no later than w2 takes them over.
	f1.set(func(op string) error {
		if op == "UpdateItem" {
			return throttle(op)
		}
		return nil
	})
	for i := 0; i < 8; i++ {
		e.round(w1, w2)
		for _, id := range ids {
			if w1.Holds(id) && w2.Holds(id) {
				t.Fatalf("round %d: %s held by both workers", i, id)
			}
		}
	}
	lost := kinds(drain(w1), Lost)
	if len(lost) != 2 || !strings.Contains(lost[0].Reason, "renewal failing") {
		t.Fatalf("w1 lost events %+v", lost)
	}
	if c := counts(w1, w2); !slices.Equal(c, []int{0, 4}) {
		t.Fatalf("counts %v, want w2 to hold all", c)
	}
}

func TestAmbiguousWriteIsNotLoss(t *testing.T) {
	e := newEnv(t)
	e.createLeases(1)
	id := shardID(0)
	w1, f1 := e.manager("w1")
	e.round(w1)
	// The renewal lands but its answer is lost; the retry then fails the
	// condition on our own write. That is not loss.
	once := true
	f1.setAfter(func(op string) error {
		if once {
			once = false
			return errors.New("connection reset by peer")
		}
		return nil
	})
	e.round(w1)
	if !w1.Holds(id) || len(drain(w1)) != 1 {
		t.Fatal("lease lost after an ambiguous renewal")
	}
	once = true
	if err := w1.Checkpoint(bg, id, "77", 1); err != nil {
		t.Fatalf("checkpoint after ambiguous write: %v", err)
	}
	if l := e.row(id); l.Checkpoint != "77" || l.SubSequence != 1 || l.Counter != 3 {
		t.Fatalf("row %+v", l)
	}
	if err := w1.Checkpoint(bg, id, "78", 0); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentCheckpoints(t *testing.T) {
	e := newEnv(t)
	ids := e.createLeases(16)
	m, _ := e.manager("w1")
	e.round(m)
	const perShard = 60

	ctx, cancel := context.WithCancel(bg)
	var wg, ticker sync.WaitGroup
	ticker.Add(1)
	go func() { // renewals race with the checkpoints
		defer ticker.Done()
		for ctx.Err() == nil {
			if err := m.Tick(ctx); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
			_ = m.Held()
		}
	}()
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Goroutine g owns shard g; every fourth goroutine also writes to
			// shard 0, so one lease sees concurrent checkpoints too.
			for i := 1; i <= perShard; i++ {
				if err := m.Checkpoint(ctx, ids[g], fmt.Sprint(i), int64(g)); err != nil {
					errs <- fmt.Errorf("shard %d seq %d: %w", g, i, err)
					return
				}
				if g%4 == 3 {
					if err := m.Checkpoint(ctx, ids[0], "0", 99); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	ticker.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if drain(m); len(m.Held()) != 16 {
		t.Fatalf("held %d", len(m.Held()))
	}
	s := m.Stats()
	var sum int64
	for g, id := range ids {
		l := e.row(id)
		sum += l.Counter
		if g != 0 && (l.Checkpoint != fmt.Sprint(perShard) || l.SubSequence != int64(g)) {
			t.Fatalf("shard %d row %+v", g, l)
		}
	}
	// Every successful write moved a counter exactly once: nothing was lost
	// to a race between renewals and checkpoints.
	if want := 16 + s.Renewals + s.Checkpoints; sum != want {
		t.Fatalf("sum of counters %d, want takes+renewals+checkpoints = %d", sum, want)
	}
	if s.Checkpoints != 16*perShard+4*perShard {
		t.Fatalf("checkpoints %d", s.Checkpoints)
	}
}

func TestReleaseAllHandsOverAtOnce(t *testing.T) {
	e := newEnv(t)
	ids := e.createLeases(3)
	w1, _ := e.manager("w1")
	w2, _ := e.manager("w2")
	e.round(w1)
	if c := counts(w1, w2); c[0] != 3 {
		t.Fatalf("counts %v", c)
	}
	drain(w1)
	if err := w1.ReleaseAll(bg); err != nil {
		t.Fatal(err)
	}
	if evs := kinds(drain(w1), Released); len(evs) != 3 {
		t.Fatalf("released events %+v", evs)
	}
	for _, id := range ids {
		if l := e.row(id); l.Owner != "" {
			t.Fatalf("row %+v still owned", l)
		}
	}
	if err := w1.Release(bg, ids[0]); !isLost(err) {
		t.Fatalf("release of a lease not held: %v", err)
	}
	// No failover wait: the other worker takes them in its next round.
	if err := w2.Tick(bg); err != nil {
		t.Fatal(err)
	}
	if got := heldIDs(w2); !slices.Equal(got, ids) {
		t.Fatalf("w2 holds %v", got)
	}
	if l := e.row(ids[0]); l.OwnerSwitchesSinceCheckpoint != 0 {
		t.Fatalf("taking a released lease counted an owner switch: %+v", l)
	}
}

func TestRestartReclaimsOwnLeasesImmediately(t *testing.T) {
	e := newEnv(t)
	ids := e.createLeases(3)
	old, _ := e.manager("host-1")
	e.round(old)
	// The process restarts with the same worker id (SIGKILL, then start).
	restarted, _ := e.manager("host-1")
	e.round(restarted)
	if got := heldIDs(restarted); !slices.Equal(got, ids) {
		t.Fatalf("restarted worker holds %v", got)
	}
	for _, ev := range drain(restarted) {
		if ev.Kind != Acquired || ev.Peer != "" || !strings.Contains(ev.Reason, "previous run") {
			t.Fatalf("event %+v", ev)
		}
	}
	// The dead incarnation, were it alive, has lost them.
	if err := old.Checkpoint(bg, ids[0], "1", 0); !isLost(err) {
		t.Fatalf("old incarnation checkpoint: %v", err)
	}
}

func TestEventsNeverBlock(t *testing.T) {
	e := newEnv(t)
	e.createLeases(5)
	m, _ := e.manager("w1", WithEventBuffer(2))
	e.round(m) // nobody reads events
	if len(m.Held()) != 5 {
		t.Fatalf("held %d", len(m.Held()))
	}
	if s := m.Stats(); s.DroppedEvents != 3 {
		t.Fatalf("dropped %d, want 3", s.DroppedEvents)
	}
	if len(drain(m)) != 2 {
		t.Fatal("buffered events not delivered")
	}
}

func TestBackoffGrowsAndIsBounded(t *testing.T) {
	m := NewManager(newFakeDDB(), "t", "w", WithRetry(6, 10*time.Millisecond, 80*time.Millisecond))
	for attempt, want := range []time.Duration{10, 20, 40, 80, 80, 80} {
		want *= time.Millisecond
		for range 20 {
			if d := m.backoff(attempt); d < want/2 || d > want {
				t.Fatalf("attempt %d: %s not in [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
}

func TestRunTicksUntilCancelled(t *testing.T) {
	e := newEnv(t)
	e.createLeases(2)
	f := &faulty{DynamoDBAPI: e.ddb}
	m := NewManager(f, testTable, "runner", WithFailoverTime(30*time.Millisecond), WithLogger(testLogger()))
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(m.Held()) != 2 || m.Stats().Renewals < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("run did not take and renew: %+v", m.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWorkerCutOffFromTableStopsAndIsReplaced(t *testing.T) {
	e := newEnv(t)
	ids := e.createLeases(2)
	w1, f1 := e.manager("w1")
	w2, _ := e.manager("w2")
	e.round(w1)
	for range 3 {
		e.round(w1, w2)
	}
	if c := counts(w1, w2); !slices.Equal(c, []int{1, 1}) {
		t.Fatalf("setup %v", c)
	}
	drain(w1)
	mine := heldIDs(w1)[0]
	// w1 loses its network path to DynamoDB.
	f1.set(func(op string) error { return errors.New("dial tcp: connect: network is unreachable") })
	// While cut off its checkpoints fail, but not as loss: it may still hold them.
	if err := w1.Checkpoint(bg, mine, "5", 0); err == nil || isLost(err) {
		t.Fatalf("checkpoint while cut off: %v", err)
	}
	for i := 0; i < 6; i++ {
		if err := w1.Tick(bg); err == nil {
			t.Fatal("tick succeeded without a table")
		}
		if err := w2.Tick(bg); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if w1.Holds(id) && w2.Holds(id) {
				t.Fatalf("round %d: %s held by both", i, id)
			}
		}
		e.clk.Advance(testFailover / 3)
	}
	lost := kinds(drain(w1), Lost)
	if len(lost) != 1 || lost[0].Lease.ShardID != mine || !strings.Contains(lost[0].Reason, "renewal failing") {
		t.Fatalf("w1 events %+v", lost)
	}
	if got := heldIDs(w2); !slices.Equal(got, ids) {
		t.Fatalf("w2 holds %v", got)
	}
	// Back online, w1 is an ordinary newcomer: it rebalances by stealing one
	// lease from the live w2, it does not treat w2's leases as expired.
	f1.set(nil)
	e.round(w1, w2)
	evs := drain(w1)
	if len(evs) != 1 || evs[0].Kind != Stolen || evs[0].Peer != "w2" || !slices.Equal(counts(w1, w2), []int{1, 1}) {
		t.Fatalf("after reconnect: %v %+v", counts(w1, w2), evs)
	}
	if lost := kinds(drain(w2), Lost); len(lost) != 1 || lost[0].Peer != "w1" {
		t.Fatalf("w2 did not notice the steal: %+v", lost)
	}
}

func TestLeaseMovesBeforeChildsFirstCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.createLeases(1)
	parent := shardID(0)
	w1, _ := e.manager("w1")
	w2, _ := e.manager("w2")
	e.round(w1)
	if err := w1.CheckpointShardEnd(bg, parent, []ChildShard{{ShardID: "child"}}); err != nil {
		t.Fatal(err)
	}
	e.round(w1) // w1 takes the child, then dies before any checkpoint on it
	if !w1.Holds("child") {
		t.Fatal("child not taken")
	}
	for i := 0; i < 6 && !w2.Holds("child"); i++ {
		e.round(w2)
	}
	evs := kinds(drain(w2), Acquired)
	if len(evs) != 1 || evs[0].Lease.Checkpoint != TrimHorizon {
		t.Fatalf("new owner's view %+v: the child must be read from its start", evs)
	}
}

// With expired leases available a worker takes those, and steals nothing in
// that round, even while another worker holds more than the target.
func TestExpiredLeasesTakenBeforeStealing(t *testing.T) {
	e := newEnv(t)
	e.createLeases(16)
	w1, _ := e.manager("w1", WithMaxLeasesForWorker(14))
	w2, _ := e.manager("w2", WithMaxLeasesForWorker(2))
	for range 3 {
		e.round(w1, w2)
	}
	if c := counts(w1, w2); !slices.Equal(c, []int{14, 2}) {
		t.Fatalf("setup counts %v, want [14 2]", c)
	}
	// w2 dies. w3 joins and steals from w1 (one a round) while w2 still
	// looks alive; once w2's counters have been frozen for failoverTime, its
	// leases are expired and w1 is still above target: w3 must take the
	// expired leases, not steal.
	w3, _ := e.manager("w3")
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatal("w3 never took w2's expired leases")
		}
		e.round(w1, w3)
		evs := drain(w3)
		if len(kinds(evs, Acquired)) == 0 {
			continue
		}
		if len(evs) != 2 {
			t.Fatalf("round %d: w3 events %+v, want exactly w2's 2 expired leases", round, evs)
		}
		for _, ev := range evs {
			if ev.Kind != Acquired || ev.Peer != "w2" || !strings.Contains(ev.Reason, "expired") {
				t.Fatalf("round %d: w3 event %+v, want an expired lease of w2 taken, nothing stolen", round, ev)
			}
		}
		if n := len(w1.Held()); n <= 8 {
			t.Fatalf("w1 holds %d, want above the target 8 (so stealing was possible)", n)
		}
		break
	}
	e.checkExclusive(w1, w3)
}
