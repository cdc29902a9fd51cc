package workload

import (
	"testing"
	"time"
)

func TestDescribe(t *testing.T) {
	a := Describe(WithRate(100), WithKeys(ZipfKeys(40, 1.4)), WithProducers(2))
	if b := Describe(WithProducers(2), WithRate(100), WithKeys(ZipfKeys(40, 1.4))); a != b {
		t.Errorf("the same options in another order describe differently:\n%s\n%s", a, b)
	}
	for name, o := range map[string]Option{
		"rate": WithRate(101), "keys": WithKeys(ZipfKeys(40, 1.5)), "size": WithRecordSize(100, 200),
		"aggregation": WithAggregation(4), "malformed": WithMalformedEvery(7), "oversized": WithOversizedSize(1000),
		"backoff": WithBackoff(time.Millisecond, time.Second), "drain": WithDrainGrace(time.Second),
	} {
		if b := Describe(WithRate(100), WithKeys(ZipfKeys(40, 1.4)), WithProducers(2), o); a == b {
			t.Errorf("option %s left the description unchanged: %s", name, b)
		}
	}
	if Describe(WithSeed(5), WithTotal(9)) != Describe() {
		t.Error("seed and total, the harness's, are described")
	}
}

func TestValidate(t *testing.T) {
	if err := Validate(WithRate(10), WithKeys(UniformKeys(4))); err != nil {
		t.Error(err)
	}
	for name, o := range map[string]Option{
		"producers": WithProducers(0), "size": WithRecordSize(2<<20, 2<<20), "zipf": WithKeys(ZipfKeys(4, 0.5)),
		"hash": WithKeys(PinnedKeys(4, "x")), "sub-keys": WithSubRecordHashKeys("1"),
	} {
		if Validate(o) == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
