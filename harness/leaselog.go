package harness

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"
)

// LeaseLoss is a lease an instance reported lost ("lease lost" in its log,
// part of the replicator's operations contract): taken by another worker,
// its row deleted, or its renewal failing for the failover time. The same
// worker may take the lease again later, which the lease table alone does
// not show, and then resumes at the checkpoint like any new owner.
type LeaseLoss struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	Worker   string    `json:"worker"`
	Shard    string    `json:"shard"`
	Reason   string    `json:"reason,omitempty"`
}

// leaseLossMessage is the log message of replicator/lease's Lost event.
const leaseLossMessage = "lease lost"

// tapHandler passes records to the next handler and reports lease losses.
// It is enabled at Warn whatever the next handler says, so losses are seen
// even when the logs themselves are discarded.
type tapHandler struct {
	next  slog.Handler
	attrs []slog.Attr
	seen  func(shard, reason string, t time.Time)
}

func (h *tapHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *tapHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == leaseLossMessage {
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
			h.seen(shard, reason, r.Time)
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

// parseLeaseLoss reads a lease loss from one of the binary's JSON log lines.
func parseLeaseLoss(line string) (shard, reason string, t time.Time, ok bool) {
	var rec struct {
		Time   time.Time `json:"time"`
		Msg    string    `json:"msg"`
		Shard  string    `json:"shard"`
		Reason string    `json:"reason"`
	}
	if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != leaseLossMessage || rec.Shard == "" {
		return "", "", time.Time{}, false
	}
	return rec.Shard, rec.Reason, rec.Time, true
}
