package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// readCounts are the replicator's own counts of its Kinesis reads.
type readCounts struct {
	recordsIn     int64 // replicator_records_in_total
	throttledGets int64 // replicator_throttles_total{operation="GetRecords"}
}

// scrapeReads reads the replicator's /metrics.
func scrapeReads(ctx context.Context, base string) (readCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return readCounts{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return readCounts{}, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return readCounts{}, fmt.Errorf("scrape metrics: %w", err)
	}
	var c readCounts
	for _, m := range fams["replicator_records_in_total"].GetMetric() {
		c.recordsIn += int64(m.GetCounter().GetValue())
	}
	for _, m := range fams["replicator_throttles_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "operation" && l.GetValue() == "GetRecords" {
				c.throttledGets += int64(m.GetCounter().GetValue())
			}
		}
	}
	return c, nil
}
