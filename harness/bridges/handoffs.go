package bridges

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shardbridge/shardbridge/replicator/process"
)

// handoffLog records when each in-process life (by worker id) handed records
// of each shard to Kafka: the Kafka output does not say which worker wrote a
// record, and a scenario may have to show that a worker stopped writing a
// shard before another worker took the shard over.
type handoffLog struct {
	mu sync.Mutex
	at map[handoffKey][]time.Time
}

type handoffKey struct{ worker, shard string }

// note records that worker hands r to Kafka now (records without a
// kinesis.shard header are not a shard's). A nil log records nothing.
func (h *handoffLog) note(worker string, r *kgo.Record) {
	if h == nil {
		return
	}
	shard := ""
	for _, hd := range r.Headers {
		if hd.Key == process.HeaderShard {
			shard = string(hd.Value)
			break
		}
	}
	if shard == "" {
		return
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.at == nil {
		h.at = map[handoffKey][]time.Time{}
	}
	k := handoffKey{worker, shard}
	h.at[k] = append(h.at[k], now)
}

func (h *handoffLog) times(worker, shard string) []time.Time {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.at[handoffKey{worker, shard}]...)
}

// HandedOff returns when the in-process life with this worker id handed
// records of shard to Kafka (any topic, copies included), oldest first: the
// moment each one passed the instance's gate towards the producer. Nothing
// is recorded without WithHandOffLog (nil).
func (l *Launcher) HandedOff(worker, shard string) []time.Time {
	return l.handoffs.times(worker, shard)
}
