package fault

import "testing"

func TestNextShardIterator(t *testing.T) {
	cases := []struct {
		body, want string
		ok         bool
	}{
		{`{"Records":[],"NextShardIterator":"abc"}`, "abc", true},
		{`{"NextShardIterator" : "a\"b\\c","Records":[]}`, `a"b\c`, true},
		{`{"Records":[{"PartitionKey":"NextShardIterator","Data":"AA=="}],"NextShardIterator":"x"}`, "x", true},
		{`{"Records":[{"PartitionKey":"\"NextShardIterator\":\"no\""}],"NextShardIterator":"y"}`, "y", true},
		{`{"Records":[],"NextShardIterator":null,"ChildShards":[]}`, "", false},
		{`{"Records":[]}`, "", false},
		{`{"NextShardIterator":"unterminated`, "", false},
	}
	for _, c := range cases {
		got, ok := nextShardIterator([]byte(c.body))
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %q %v, want %q %v", c.body, got, ok, c.want, c.ok)
		}
	}
}

func FuzzNextShardIterator(f *testing.F) {
	f.Add([]byte(`{"NextShardIterator":"abc"}`))
	f.Add([]byte(`{"NextShardIterator":"a\\"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = nextShardIterator(b)
	})
}
