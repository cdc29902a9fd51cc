package attr

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a problem with an attribute value, worded as DynamoDB words it.
// Serialization errors are malformed wire data (SerializationException);
// the rest are ValidationException.
type Error struct {
	Serialization bool
	Msg           string
}

func (e *Error) Error() string { return e.Msg }

func validationf(format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// wireValue mirrors the JSON shape of an AttributeValue; pointer and nil-able
// fields let us tell "absent" from "empty".
type wireValue struct {
	S    *string          `json:"S"`
	N    *string          `json:"N"`
	B    *string          `json:"B"`
	BOOL *bool            `json:"BOOL"`
	NULL *bool            `json:"NULL"`
	M    map[string]Value `json:"M"`
	L    []Value          `json:"L"`
	SS   []string         `json:"SS"`
	NS   []string         `json:"NS"`
	BS   []string         `json:"BS"`
}

// UnmarshalJSON decodes and validates one AttributeValue.
func (v *Value) UnmarshalJSON(data []byte) error {
	var w wireValue
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	set := 0
	for _, present := range []bool{w.S != nil, w.N != nil, w.B != nil, w.BOOL != nil, w.NULL != nil,
		w.M != nil, w.L != nil, w.SS != nil, w.NS != nil, w.BS != nil} {
		if present {
			set++
		}
	}
	switch {
	case set == 0:
		return validationf("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	case set > 1:
		return validationf("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	switch {
	case w.S != nil:
		*v = S(*w.S)
	case w.N != nil:
		n, err := ParseNumber(*w.N)
		if err != nil {
			return err
		}
		*v = N(n)
	case w.B != nil:
		b, err := decodeBase64(*w.B)
		if err != nil {
			return err
		}
		*v = Value{kind: KindB, str: b}
	case w.BOOL != nil:
		*v = Bool(*w.BOOL)
	case w.NULL != nil:
		if !*w.NULL {
			return validationf("One or more parameter values were invalid: Null attribute value types must have the value of true")
		}
		*v = Null()
	case w.M != nil:
		*v = M(w.M)
	case w.L != nil:
		*v = L(w.L)
	case w.SS != nil:
		if len(w.SS) == 0 {
			return validationf("One or more parameter values were invalid: An string set  may not be empty")
		}
		if dupStrings(w.SS) {
			return validationf("One or more parameter values were invalid: Input collection [%s] contains duplicates.", strings.Join(w.SS, ", "))
		}
		*v = SS(w.SS)
	case w.NS != nil:
		if len(w.NS) == 0 {
			return validationf("One or more parameter values were invalid: An number set  may not be empty")
		}
		nums := make([]Number, len(w.NS))
		for i, s := range w.NS {
			n, err := ParseNumber(s)
			if err != nil {
				return err
			}
			if containsNumber(nums[:i], n) {
				return validationf("One or more parameter values were invalid: Input collection [%s] contains duplicates.", strings.Join(w.NS, ", "))
			}
			nums[i] = n
		}
		*v = NS(nums)
	case w.BS != nil:
		if len(w.BS) == 0 {
			return validationf("One or more parameter values were invalid: An binary set  may not be empty")
		}
		raw := make([]string, len(w.BS))
		for i, s := range w.BS {
			b, err := decodeBase64(s)
			if err != nil {
				return err
			}
			raw[i] = b
		}
		if dupStrings(raw) {
			return validationf("One or more parameter values were invalid: Input collection [%s] of type BS contains duplicates.", strings.Join(w.BS, ", "))
		}
		*v = Value{kind: KindBS, strs: raw}
	}
	return nil
}

func decodeBase64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", &Error{Serialization: true, Msg: fmt.Sprintf("'%s' can not be converted to a Blob: %v", s, err)}
	}
	return string(b), nil
}

func dupStrings(s []string) bool {
	seen := make(map[string]struct{}, len(s))
	for _, x := range s {
		if _, ok := seen[x]; ok {
			return true
		}
		seen[x] = struct{}{}
	}
	return false
}

// MarshalJSON encodes v in DynamoDB's wire format.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.kind == KindInvalid {
		return nil, fmt.Errorf("attr: cannot encode an absent value")
	}
	return v.AppendJSON(nil), nil
}

// AppendJSON appends v's wire encoding to dst.
func (v Value) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"`...)
	dst = append(dst, v.kind.String()...)
	dst = append(dst, `":`...)
	switch v.kind {
	case KindS:
		dst = appendString(dst, v.str)
	case KindN:
		dst = append(dst, '"')
		dst = append(dst, v.num.String()...)
		dst = append(dst, '"')
	case KindB:
		dst = appendBase64(dst, v.str)
	case KindBOOL, KindNULL:
		dst = strconv.AppendBool(dst, v.flag)
	case KindM:
		dst = appendMap(dst, v.m)
	case KindL:
		dst = appendArray(dst, v.l, func(dst []byte, e Value) []byte { return e.AppendJSON(dst) })
	case KindSS:
		dst = appendArray(dst, v.strs, appendString)
	case KindNS:
		dst = appendArray(dst, v.nums, appendQuotedNumber)
	case KindBS:
		dst = appendArray(dst, v.strs, appendBase64)
	}
	return append(dst, '}')
}

// appendArray writes items as a JSON array. The list and set kinds differ
// only in how one element is encoded, which appendElem supplies.
func appendArray[T any](dst []byte, items []T, appendElem func([]byte, T) []byte) []byte {
	dst = append(dst, '[')
	for i, item := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendElem(dst, item)
	}
	return append(dst, ']')
}

// appendQuotedNumber writes a number as DynamoDB's wire format does: a JSON
// string, so no precision is lost to a float64 round trip.
func appendQuotedNumber(dst []byte, n Number) []byte {
	dst = append(dst, '"')
	dst = append(dst, n.String()...)
	return append(dst, '"')
}

func appendBase64(dst []byte, raw string) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, []byte(raw))
	return append(dst, '"')
}

// appendMap writes attribute maps with sorted keys so responses (and their
// CRC32) are deterministic.
func appendMap(dst []byte, m map[string]Value) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = m[k].AppendJSON(dst)
	}
	return append(dst, '}')
}

// MarshalJSON encodes the item as a JSON object of AttributeValues.
func (it Item) MarshalJSON() ([]byte, error) { return it.AppendJSON(nil), nil }

// AppendJSON appends the item's wire encoding to dst.
func (it Item) AppendJSON(dst []byte) []byte { return appendMap(dst, it) }

// UnmarshalJSON decodes a JSON object of AttributeValues.
func (it *Item) UnmarshalJSON(data []byte) error {
	var m map[string]Value
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*it = m
	return nil
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 is replaced, as the
// JSON decoder that produced it would have done.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
