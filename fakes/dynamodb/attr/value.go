// Package attr models DynamoDB attribute values for the in-process emulator.
//
// Contract: a Value is one of the ten DynamoDB types (S, N, B, BOOL, NULL, M,
// L, SS, NS, BS) and is immutable once built — code that "modifies" an item
// builds new Values, so an Item can be shared between goroutines after it has
// been stored. Numbers are exact decimals (Number, never float64) with
// DynamoDB's 38-digit precision and range; sets are never empty and never hold
// duplicates. Values decode from and encode to DynamoDB's JSON wire format
// ({"S":"x"}, {"N":"1.5"}, ...) with the same validation and messages as
// DynamoDB, reported as *Error.
package attr

import (
	"bytes"
	"fmt"
	"sort"
)

// Kind is a DynamoDB attribute type.
type Kind uint8

// The DynamoDB attribute types. KindInvalid is the zero Value's kind and
// marks "no value" (for example a path that does not exist).
const (
	KindInvalid Kind = iota
	KindS
	KindN
	KindB
	KindBOOL
	KindNULL
	KindM
	KindL
	KindSS
	KindNS
	KindBS
)

var kindNames = [...]string{"", "S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}

// String returns the wire name of k ("S", "NS", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// KindFromName maps a wire type name ("S", "BOOL", ...) to its Kind.
func KindFromName(name string) (Kind, bool) {
	for i, n := range kindNames {
		if i > 0 && n == name {
			return Kind(i), true
		}
	}
	return KindInvalid, false
}

// Value is one DynamoDB attribute value. The zero Value is "absent".
type Value struct {
	kind Kind
	str  string           // S; B (raw bytes)
	num  Number           // N
	flag bool             // BOOL; NULL (always true)
	m    map[string]Value // M
	l    []Value          // L
	strs []string         // SS; BS (raw bytes)
	nums []Number         // NS
}

// Item is a DynamoDB item: attribute name → value.
type Item map[string]Value

// S returns a string value.
func S(s string) Value { return Value{kind: KindS, str: s} }

// N returns a number value.
func N(n Number) Value { return Value{kind: KindN, num: n} }

// B returns a binary value (the bytes are copied).
func B(b []byte) Value { return Value{kind: KindB, str: string(b)} }

// Bool returns a BOOL value.
func Bool(b bool) Value { return Value{kind: KindBOOL, flag: b} }

// Null returns the NULL value.
func Null() Value { return Value{kind: KindNULL, flag: true} }

// M returns a map value; the caller must not modify m afterwards.
func M(m map[string]Value) Value {
	if m == nil {
		m = map[string]Value{}
	}
	return Value{kind: KindM, m: m}
}

// L returns a list value; the caller must not modify l afterwards.
func L(l []Value) Value {
	if l == nil {
		l = []Value{}
	}
	return Value{kind: KindL, l: l}
}

// SS returns a string set. It does not check emptiness or duplicates; use
// NewSet-style validation (Validate) where input comes from users.
func SS(s []string) Value { return Value{kind: KindSS, strs: s} }

// NS returns a number set (see SS).
func NS(n []Number) Value { return Value{kind: KindNS, nums: n} }

// BS returns a binary set (see SS).
func BS(b [][]byte) Value {
	s := make([]string, len(b))
	for i, x := range b {
		s[i] = string(x)
	}
	return Value{kind: KindBS, strs: s}
}

// Kind returns v's type; KindInvalid for the zero Value.
func (v Value) Kind() Kind { return v.kind }

// Exists reports whether v holds a value (is not the zero Value).
func (v Value) Exists() bool { return v.kind != KindInvalid }

// Str returns the string of an S value.
func (v Value) Str() string { return v.str }

// Num returns the number of an N value.
func (v Value) Num() Number { return v.num }

// Bytes returns a copy of the bytes of a B value.
func (v Value) Bytes() []byte { return []byte(v.str) }

// BoolValue returns the boolean of a BOOL value.
func (v Value) BoolValue() bool { return v.flag }

// Map returns the map of an M value; callers must not modify it.
func (v Value) Map() map[string]Value { return v.m }

// List returns the elements of an L value; callers must not modify them.
func (v Value) List() []Value { return v.l }

// Strings returns the members of an SS value (or the raw bytes of a BS value
// as strings); callers must not modify them.
func (v Value) Strings() []string { return v.strs }

// Numbers returns the members of an NS value; callers must not modify them.
func (v Value) Numbers() []Number { return v.nums }

// BinarySet returns copies of the members of a BS value.
func (v Value) BinarySet() [][]byte {
	out := make([][]byte, len(v.strs))
	for i, s := range v.strs {
		out[i] = []byte(s)
	}
	return out
}

// Len is the element count DynamoDB's size() function reports: bytes for S
// and B, members for sets, entries for M and L. ok is false for other types.
func (v Value) Len() (n int, ok bool) {
	switch v.kind {
	case KindS, KindB:
		return len(v.str), true
	case KindM:
		return len(v.m), true
	case KindL:
		return len(v.l), true
	case KindSS, KindBS:
		return len(v.strs), true
	case KindNS:
		return len(v.nums), true
	}
	return 0, false
}

// IsSet reports whether v is SS, NS or BS.
func (v Value) IsSet() bool { return v.kind == KindSS || v.kind == KindNS || v.kind == KindBS }

// Equal reports deep equality with DynamoDB semantics: same type, numbers
// compared numerically, sets compared without regard to order.
func Equal(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case KindInvalid:
		return false
	case KindS, KindB:
		return a.str == b.str
	case KindN:
		return a.num.Cmp(b.num) == 0
	case KindBOOL, KindNULL:
		return a.flag == b.flag
	case KindM:
		if len(a.m) != len(b.m) {
			return false
		}
		for k, av := range a.m {
			bv, ok := b.m[k]
			if !ok || !Equal(av, bv) {
				return false
			}
		}
		return true
	case KindL:
		if len(a.l) != len(b.l) {
			return false
		}
		for i := range a.l {
			if !Equal(a.l[i], b.l[i]) {
				return false
			}
		}
		return true
	case KindSS, KindBS:
		return sameSet(a.strs, b.strs, containsString)
	case KindNS:
		return sameSet(a.nums, b.nums, containsNumber)
	}
	return false
}

// Compare orders two scalars of the same ordered type (S by UTF-8 bytes, N
// numerically, B as unsigned bytes). ok is false for any other pair, which
// DynamoDB treats as "comparison is false", not as an error.
func Compare(a, b Value) (c int, ok bool) {
	if a.kind != b.kind {
		return 0, false
	}
	switch a.kind {
	case KindS, KindB:
		return bytes.Compare([]byte(a.str), []byte(b.str)), true
	case KindN:
		return a.num.Cmp(b.num), true
	}
	return 0, false
}

// ContainsMember reports whether set or list v holds e (contains() semantics:
// substring for strings, member for sets, element for lists).
func (v Value) ContainsMember(e Value) bool {
	switch v.kind {
	case KindS:
		return e.kind == KindS && bytes.Contains([]byte(v.str), []byte(e.str))
	case KindB:
		return e.kind == KindB && bytes.Contains([]byte(v.str), []byte(e.str))
	case KindSS:
		return e.kind == KindS && containsString(v.strs, e.str)
	case KindBS:
		return e.kind == KindB && containsString(v.strs, e.str)
	case KindNS:
		return e.kind == KindN && containsNumber(v.nums, e.num)
	case KindL:
		for _, x := range v.l {
			if Equal(x, e) {
				return true
			}
		}
	}
	return false
}

// sameSet compares two sets ignoring order (DynamoDB sets are unordered):
// equal length and every member of a found in b. That is exact for sets
// decoded from the wire, whose members the decoder keeps unique; values built
// with the unchecked constructors get no such guarantee.
func sameSet[T any](a, b []T, contains func([]T, T) bool) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

func containsString(set []string, s string) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

func containsNumber(set []Number, n Number) bool {
	for _, x := range set {
		if x.Cmp(n) == 0 {
			return true
		}
	}
	return false
}

// SetUnion returns a ∪ b for two sets of the same kind (ADD on sets).
func SetUnion(a, b Value) Value {
	switch a.kind {
	case KindNS:
		out := append([]Number(nil), a.nums...)
		for _, n := range b.nums {
			if !containsNumber(out, n) {
				out = append(out, n)
			}
		}
		return Value{kind: KindNS, nums: out}
	default:
		out := append([]string(nil), a.strs...)
		for _, s := range b.strs {
			if !containsString(out, s) {
				out = append(out, s)
			}
		}
		return Value{kind: a.kind, strs: out}
	}
}

// SetDifference returns a \ b for two sets of the same kind (DELETE on
// sets). The result may be empty: the caller removes the attribute then.
func SetDifference(a, b Value) Value {
	switch a.kind {
	case KindNS:
		var out []Number
		for _, n := range a.nums {
			if !containsNumber(b.nums, n) {
				out = append(out, n)
			}
		}
		return Value{kind: KindNS, nums: out}
	default:
		var out []string
		for _, s := range a.strs {
			if !containsString(b.strs, s) {
				out = append(out, s)
			}
		}
		return Value{kind: a.kind, strs: out}
	}
}

// Size is DynamoDB's storage size of the value (without an attribute name),
// following the published sizing rules: strings and binaries by length,
// numbers by significant digits, 1 byte for BOOL/NULL, 3 bytes of overhead
// plus 1 byte per element for M and L.
func (v Value) Size() int {
	switch v.kind {
	case KindS, KindB:
		return len(v.str)
	case KindN:
		return v.num.size()
	case KindBOOL, KindNULL:
		return 1
	case KindM:
		n := 3
		for k, e := range v.m {
			n += len(k) + e.Size() + 1
		}
		return n
	case KindL:
		n := 3
		for _, e := range v.l {
			n += e.Size() + 1
		}
		return n
	case KindSS, KindBS:
		n := 0
		for _, s := range v.strs {
			n += len(s)
		}
		return n
	case KindNS:
		n := 0
		for _, x := range v.nums {
			n += x.size()
		}
		return n
	}
	return 0
}

// Size is the item's DynamoDB size: attribute names plus values.
func (it Item) Size() int {
	n := 0
	for k, v := range it {
		n += len(k) + v.Size()
	}
	return n
}

// Clone returns a shallow copy of the item map (values are immutable).
func (it Item) Clone() Item {
	out := make(Item, len(it))
	for k, v := range it {
		out[k] = v
	}
	return out
}

// ItemsEqual reports whether two items hold the same attributes and values.
func ItemsEqual(a, b Item) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !Equal(v, w) {
			return false
		}
	}
	return true
}

// String renders v compactly for error messages, e.g. {N:5} or {SS:[a, b]}.
func (v Value) String() string {
	switch v.kind {
	case KindInvalid:
		return "<absent>"
	case KindS:
		return "{S:" + v.str + "}"
	case KindB:
		return "{B:" + b64(v.str) + "}"
	case KindN:
		return "{N:" + v.num.String() + "}"
	case KindBOOL:
		return fmt.Sprintf("{BOOL:%t}", v.flag)
	case KindNULL:
		return "{NULL:true}"
	case KindM:
		keys := make([]string, 0, len(v.m))
		for k := range v.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b bytes.Buffer
		b.WriteString("{M:{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k + "=" + v.m[k].String())
		}
		b.WriteString("}}")
		return b.String()
	case KindL:
		var b bytes.Buffer
		b.WriteString("{L:[")
		for i, e := range v.l {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e.String())
		}
		b.WriteString("]}")
		return b.String()
	}
	return "{" + v.kind.String() + ":" + setString(v) + "}"
}

func setString(v Value) string {
	var b bytes.Buffer
	b.WriteByte('[')
	switch v.kind {
	case KindNS:
		for i, n := range v.nums {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(n.String())
		}
	case KindBS:
		for i, s := range v.strs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(b64(s))
		}
	default:
		for i, s := range v.strs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(s)
		}
	}
	b.WriteByte(']')
	return b.String()
}
