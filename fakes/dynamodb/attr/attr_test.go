package attr

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseNumberNormalises(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"+0", "0"}, {"0.000", "0"}, {"00042", "42"},
		{"1.50", "1.5"}, {"1.0", "1"}, {"+5", "5"}, {"-7", "-7"}, {".5", "0.5"}, {"5.", "5"},
		{"1e2", "100"}, {"1E+2", "100"}, {"1.5E3", "1500"}, {"1.5e-3", "0.0015"}, {"-1.25e1", "-12.5"},
		{"123.456000", "123.456"}, {"1000", "1000"}, {"0.00100", "0.001"},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345678"},
		{"1234567891234560000000000000000000000000", "1234567891234560000000000000000000000000"},
		{"1E-130", "0." + strings.Repeat("0", 129) + "1"},
		{"9.9999999999999999999999999999999999999E+125", "99999999999999999999999999999999999999" + strings.Repeat("0", 88)},
	} {
		got, err := ParseNumber(tc.in)
		if err != nil {
			t.Errorf("ParseNumber(%q): %v", tc.in, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("ParseNumber(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseNumberRejects(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "The parameter cannot be converted to a numeric value"},
		{"abc", "The parameter cannot be converted to a numeric value: abc"},
		{" 5", "cannot be converted"}, {"5 ", "cannot be converted"}, {"1+2", "cannot be converted"},
		{"1.2.3", "cannot be converted"}, {"+e2", "cannot be converted"}, {"1e", "cannot be converted"},
		{"NaN", "cannot be converted"}, {"Infinity", "cannot be converted"}, {"0x10", "cannot be converted"},
		{".", "cannot be converted"}, {"-", "cannot be converted"},
		{"123456789012345678901234567890123456789", msgTooManyDigits},
		{"1E126", msgOverflow}, {"-1E126", msgOverflow}, {"1E-131", msgUnderflow},
		{"1e999999999999", msgOverflow},
	} {
		_, err := ParseNumber(tc.in)
		var ae *Error
		if !errors.As(err, &ae) || ae.Serialization || !strings.Contains(ae.Msg, tc.want) {
			t.Errorf("ParseNumber(%q) error = %v, want validation error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestNumberCompare(t *testing.T) {
	ordered := []string{"-1E125", "-100", "-2.5", "-2", "-0.001", "0", "1E-130", "0.001", "1", "1.0000001", "2", "2.5", "10", "100", "1E125"}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := MustParseNumber(a).Cmp(MustParseNumber(b)); got != want {
				t.Errorf("Cmp(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	if MustParseNumber("1.50").Cmp(MustParseNumber("15e-1")) != 0 {
		t.Error("1.50 and 15e-1 must be equal")
	}
}

func TestNumberArithmetic(t *testing.T) {
	for _, tc := range []struct {
		a, b     string
		sum, dif string
	}{
		{"1", "2", "3", "-1"},
		{"0.1", "0.2", "0.3", "-0.1"},
		{"1.5", "-1.5", "0", "3"},
		{"1E20", "1", "100000000000000000001", "99999999999999999999"},
		{"-5", "-5", "-10", "0"},
		{"0", "-0.25", "-0.25", "0.25"},
		{"99999999999999999999999999999999999999", "-1", "99999999999999999999999999999999999998", "100000000000000000000000000000000000000"},
	} {
		a, b := MustParseNumber(tc.a), MustParseNumber(tc.b)
		sum, err := a.Add(b)
		if err != nil || sum.String() != tc.sum {
			t.Errorf("%s + %s = %v, %v; want %s", tc.a, tc.b, sum, err, tc.sum)
		}
		dif, err := a.Sub(b)
		if err != nil || dif.String() != tc.dif {
			t.Errorf("%s - %s = %v, %v; want %s", tc.a, tc.b, dif, err, tc.dif)
		}
	}
	// Exactness beyond float64: 0.1 + 0.2 is exactly 0.3, and a 38-digit
	// counter still increments by one.
	big := MustParseNumber("12345678901234567890123456789012345678")
	next, err := big.Add(MustParseNumber("1"))
	if err != nil || next.String() != "12345678901234567890123456789012345679" {
		t.Errorf("38-digit increment = %v, %v", next, err)
	}
	if _, err := MustParseNumber("1E+37").Add(MustParseNumber("0.1")); err == nil || !strings.Contains(err.Error(), msgTooManyDigits) {
		t.Errorf("precision overflow error = %v", err)
	}
	if _, err := MustParseNumber("9.9999999999999999999999999999999999999E+125").Add(MustParseNumber("1E+125")); err == nil || !strings.Contains(err.Error(), msgOverflow) {
		t.Errorf("magnitude overflow error = %v", err)
	}
}

func decode(t *testing.T, js string) (Value, error) {
	t.Helper()
	var v Value
	err := json.Unmarshal([]byte(js), &v)
	return v, err
}

func TestValueDecodeValidation(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{}`, "Supplied AttributeValue is empty"},
		{`{"S":"a","N":"1"}`, "more than one datatypes set"},
		{`{"SS":[]}`, "An string set  may not be empty"},
		{`{"NS":[]}`, "An number set  may not be empty"},
		{`{"BS":[]}`, "An binary set  may not be empty"},
		{`{"SS":["a","b","a"]}`, "Input collection [a, b, a] contains duplicates."},
		{`{"NS":["1","1.0"]}`, "contains duplicates"},
		{`{"BS":["AQ==","AQ=="]}`, "contains duplicates"},
		{`{"NULL":false}`, "Null attribute value types must have the value of true"},
		{`{"N":"x"}`, "The parameter cannot be converted to a numeric value: x"},
		{`{"NS":["1","zz"]}`, "cannot be converted to a numeric value: zz"},
		{`{"M":{"a":{}}}`, "Supplied AttributeValue is empty"},
		{`{"L":[{"N":"1E200"}]}`, msgOverflow},
	} {
		_, err := decode(t, tc.in)
		var ae *Error
		if !errors.As(err, &ae) || !strings.Contains(ae.Msg, tc.want) {
			t.Errorf("decode %s: error %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := decode(t, `{"B":"!!"}`); err == nil {
		t.Error("invalid base64 accepted")
	} else if ae := new(Error); !errors.As(err, &ae) || !ae.Serialization {
		t.Errorf("invalid base64: want serialization error, got %v", err)
	}
}

func TestValueRoundTrip(t *testing.T) {
	in := `{"M":{"b":{"B":"AQID"},"bool":{"BOOL":false},"bs":{"BS":["AQ==","Ag=="]},"l":{"L":[{"N":"1.5"},{"NULL":true},{"S":"x\"y\n\u0001"}]},"n":{"N":"100"},"ns":{"NS":["1","2.5"]},"s":{"S":""},"ss":{"SS":["a","b"]}}}`
	v, err := decode(t, in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip:\n got %s\nwant %s", out, in)
	}
	// Numbers come back normalised.
	v, _ = decode(t, `{"NS":["1.50","2E1"]}`)
	out, _ = json.Marshal(v)
	if string(out) != `{"NS":["1.5","20"]}` {
		t.Errorf("NS normalisation: %s", out)
	}
}

func TestEqualAndCompare(t *testing.T) {
	a, _ := decode(t, `{"SS":["x","y","z"]}`)
	b, _ := decode(t, `{"SS":["z","x","y"]}`)
	if !Equal(a, b) {
		t.Error("sets must compare without order")
	}
	c, _ := decode(t, `{"NS":["1","2"]}`)
	d, _ := decode(t, `{"NS":["2.0","1.00"]}`)
	if !Equal(c, d) {
		t.Error("number sets compare numerically")
	}
	l1, _ := decode(t, `{"L":[{"N":"1"},{"S":"a"}]}`)
	l2, _ := decode(t, `{"L":[{"S":"a"},{"N":"1"}]}`)
	if Equal(l1, l2) {
		t.Error("lists are ordered")
	}
	if Equal(Value{}, Value{}) {
		t.Error("absent values are never equal")
	}
	if Equal(S("1"), N(MustParseNumber("1"))) {
		t.Error("different types are never equal")
	}
	if _, ok := Compare(S("a"), N(MustParseNumber("1"))); ok {
		t.Error("S and N are not ordered against each other")
	}
	if c, ok := Compare(B([]byte{0x01, 0xff}), B([]byte{0x02})); !ok || c >= 0 {
		t.Error("binary compares as unsigned bytes")
	}
	if c, ok := Compare(S("Z"), S("a")); !ok || c >= 0 {
		t.Error("strings compare by UTF-8 bytes")
	}
}

func TestSizes(t *testing.T) {
	item := Item{"name": S("abc"), "n": N(MustParseNumber("12345")), "b": Bool(true)}
	// name(4)+3 + n(1)+(3+1) + b(1)+1
	if got := item.Size(); got != 4+3+1+4+1+1 {
		t.Errorf("size = %d", got)
	}
	m, _ := decode(t, `{"M":{"k":{"S":"vv"}}}`)
	if got := m.Size(); got != 3+1+2+1 {
		t.Errorf("map size = %d", got)
	}
}

func TestSetOperations(t *testing.T) {
	a, _ := decode(t, `{"NS":["1","2"]}`)
	b, _ := decode(t, `{"NS":["2.0","3"]}`)
	u := SetUnion(a, b)
	want, _ := decode(t, `{"NS":["1","2","3"]}`)
	if !Equal(u, want) {
		t.Errorf("union = %v", u)
	}
	d := SetDifference(a, b)
	if n, _ := d.Len(); n != 1 || d.Numbers()[0].String() != "1" {
		t.Errorf("difference = %v", d)
	}
}
