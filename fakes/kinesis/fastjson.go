package kinesis

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// PutRecords bodies are the emulator's hottest input: encoding/json's
// reflection and base64 handling cost more than storing the records. This
// is a strict, allocation-light decoder for exactly that shape. It returns
// ok=false for anything it does not fully understand, and the caller then
// falls back to encoding/json, which also produces the error message.

type jscan struct {
	b []byte
	i int
}

func (s *jscan) skipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jscan) peek() byte {
	s.skipWS()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jscan) consume(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// null consumes a JSON null if one is next.
func (s *jscan) null() bool {
	if s.peek() == 'n' && strings.HasPrefix(string(s.b[s.i:min(s.i+4, len(s.b))]), "null") {
		s.i += 4
		return true
	}
	return false
}

// rawString scans a string; raw is its content between the quotes.
func (s *jscan) rawString() (raw, quoted []byte, escaped, ok bool) {
	if !s.consume('"') {
		return nil, nil, false, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw, quoted = s.b[start:s.i], s.b[start-1:s.i+1]
			s.i++
			return raw, quoted, escaped, true
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return nil, nil, false, false
		default:
			s.i++
		}
	}
	return nil, nil, false, false
}

func (s *jscan) str() (string, bool) {
	raw, quoted, esc, ok := s.rawString()
	if !ok {
		return "", false
	}
	if esc || !utf8.Valid(raw) {
		// Rare: let encoding/json unescape and replace invalid UTF-8 exactly
		// as the fallback path would.
		var v string
		if json.Unmarshal(quoted, &v) != nil {
			return "", false
		}
		return v, true
	}
	return string(raw), true
}

func (s *jscan) optStr() (*string, bool) {
	if s.null() {
		return nil, true
	}
	v, ok := s.str()
	return &v, ok
}

func (s *jscan) blob() ([]byte, bool) {
	if s.null() {
		return nil, true
	}
	raw, quoted, esc, ok := s.rawString()
	if !ok {
		return nil, false
	}
	if esc {
		var v string
		if json.Unmarshal(quoted, &v) != nil {
			return nil, false
		}
		raw = []byte(v)
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
	n, err := base64.StdEncoding.Decode(out, raw)
	if err != nil {
		return nil, false
	}
	return out[:n:n], true
}

// skipValue skips any JSON value, validating scalars with json.Valid.
func (s *jscan) skipValue() bool {
	switch s.peek() {
	case '"':
		_, quoted, esc, ok := s.rawString()
		return ok && (!esc || json.Valid(quoted))
	case '{':
		return s.object(func(string) bool { return s.skipValue() })
	case '[':
		s.i++
		if s.consume(']') {
			return true
		}
		for {
			if !s.skipValue() {
				return false
			}
			if s.consume(']') {
				return true
			}
			if !s.consume(',') {
				return false
			}
		}
	default:
		start := s.i
		for s.i < len(s.b) && !strings.ContainsRune(",}] \t\r\n", rune(s.b[s.i])) {
			s.i++
		}
		return s.i > start && json.Valid(s.b[start:s.i])
	}
}

// object iterates the members of an object, calling member with each key
// positioned before its value.
func (s *jscan) object(member func(key string) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		raw, _, esc, ok := s.rawString()
		if !ok || esc || !s.consume(':') || !member(string(raw)) {
			return false
		}
		if s.consume('}') {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}

// parsePutRecords decodes {"StreamName", "StreamARN", "Records": [{"Data",
// "PartitionKey", "ExplicitHashKey"}]} (other members are skipped).
func parsePutRecords(b []byte) (ref streamRef, recs []putEntry, ok bool) {
	s := &jscan{b: b}
	ok = s.object(func(key string) bool {
		var ok bool
		switch key {
		case "StreamName":
			ref.StreamName, ok = s.optStr()
		case "StreamARN":
			ref.StreamARN, ok = s.optStr()
		case "Records":
			if s.null() {
				recs = nil
				return true
			}
			if !s.consume('[') {
				return false
			}
			recs = make([]putEntry, 0, 500)
			if s.consume(']') {
				return true
			}
			for {
				var e putEntry
				if !s.object(func(k string) bool {
					var ok bool
					switch k {
					case "Data":
						e.Data, ok = s.blob()
					case "PartitionKey":
						e.PartitionKey, ok = s.optStr()
					case "ExplicitHashKey":
						e.ExplicitHashKey, ok = s.optStr()
					default:
						// encoding/json matches member names case-insensitively;
						// leave such bodies to it so both paths agree.
						ok = !foldsTo(k, "Data", "PartitionKey", "ExplicitHashKey") && s.skipValue()
					}
					return ok
				}) {
					return false
				}
				recs = append(recs, e)
				if s.consume(']') {
					return true
				}
				if !s.consume(',') {
					return false
				}
			}
		default:
			ok = !foldsTo(key, "StreamName", "StreamARN", "Records") && s.skipValue()
		}
		return ok
	})
	if s.skipWS(); !ok || s.i != len(s.b) {
		return streamRef{}, nil, false
	}
	return ref, recs, true
}

func foldsTo(key string, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}
