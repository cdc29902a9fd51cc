package harness

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"
)

// Abandon is a shard an instance stopped without a checkpoint, as its log
// reports it (part of the replicator's operations contract): "lease lost"
// (taken by another worker, row deleted, renewal failing for the failover
// time) or "stopping shard at once" (a refused checkpoint, or a lease that
// Held no longer reports while its renewal is late). The same worker may
// run the shard again later, which the lease table alone does not show, and
// then resumes at the checkpoint like any new owner: records above it may
// come again.
type Abandon struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	Worker   string    `json:"worker"`
	Shard    string    `json:"shard"`
	Event    string    `json:"event"` // the log message
	Reason   string    `json:"reason,omitempty"`
}

// The replicator's log messages for a shard abandoned without a checkpoint.
const (
	leaseLossMessage = "lease lost"
	shardStopMessage = "stopping shard at once"
)

func abandonMessage(msg string) bool { return msg == leaseLossMessage || msg == shardStopMessage }

// tapHandler passes records to the next handler and reports lease losses.
// It is enabled at Warn whatever the next handler says, so losses are seen
// even when the logs themselves are discarded.
type tapHandler struct {
	next  slog.Handler
	attrs []slog.Attr
	seen  func(msg, shard, reason string, t time.Time)
}

func (h *tapHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *tapHandler) Handle(ctx context.Context, r slog.Record) error {
	if abandonMessage(r.Message) {
		var shard, reason string
		pick := func(a slog.Attr) bool {
			switch a.Key {
			case "shard":
				shard = a.Value.String()
			case "reason":
				reason = a.Value.String()
			}
			return true
		}
		for _, a := range h.attrs {
			pick(a)
		}
		r.Attrs(pick)
		if shard != "" {
			h.seen(r.Message, shard, reason, r.Time)
		}
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *tapHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &tapHandler{next: h.next.WithAttrs(as), attrs: append(append([]slog.Attr(nil), h.attrs...), as...), seen: h.seen}
}

func (h *tapHandler) WithGroup(name string) slog.Handler {
	return &tapHandler{next: h.next.WithGroup(name), attrs: h.attrs, seen: h.seen}
}

// parseAbandon reads an abandoned shard from one of the binary's JSON log lines.
func parseAbandon(line string) (msg, shard, reason string, t time.Time, ok bool) {
	var rec struct {
		Time   time.Time `json:"time"`
		Msg    string    `json:"msg"`
		Shard  string    `json:"shard"`
		Reason string    `json:"reason"`
	}
	if json.Unmarshal([]byte(line), &rec) != nil || !abandonMessage(rec.Msg) || rec.Shard == "" {
		return "", "", "", time.Time{}, false
	}
	return rec.Msg, rec.Shard, rec.Reason, rec.Time, true
}
