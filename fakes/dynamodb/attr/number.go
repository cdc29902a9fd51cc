package attr

import (
	"math/big"
	"strings"
)

// DynamoDB's documented number limits: 38 significant digits, magnitudes
// from 1E-130 up to 9.9999999999999999999999999999999999999E+125.
const (
	maxDigits = 38
	maxAdjExp = 125
	minAdjExp = -130
)

// Messages DynamoDB uses when a number falls outside its limits.
const (
	msgTooManyDigits = "Attempting to store more than 38 significant digits in a Number"
	msgOverflow      = "Number overflow. Attempting to store a number with magnitude larger than supported range"
	msgUnderflow     = "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)

// Number is an exact decimal: (-1)^neg × digits × 10^exp. digits holds the
// significant digits without leading or trailing zeros ("" is zero), so two
// equal numbers always have the same representation. The zero value is 0.
type Number struct {
	neg    bool
	digits string
	exp    int
}

// ParseNumber parses a DynamoDB number string ("-1.50", "+2e3", ".5") and
// normalises it. It rejects what DynamoDB rejects: anything that is not a
// plain decimal literal, more than 38 significant digits, and magnitudes
// outside DynamoDB's range.
func ParseNumber(s string) (Number, error) {
	if s == "" {
		return Number{}, validationf("The parameter cannot be converted to a numeric value")
	}
	bad := func() (Number, error) {
		return Number{}, validationf("The parameter cannot be converted to a numeric value: %s", s)
	}
	i := 0
	neg := false
	if s[i] == '+' || s[i] == '-' {
		neg = s[i] == '-'
		i++
	}
	var coef strings.Builder
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	coef.WriteString(s[intStart:i])
	nInt := i - intStart
	nFrac := 0
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		nFrac = i - fracStart
		coef.WriteString(s[fracStart:i])
	}
	if nInt+nFrac == 0 {
		return bad()
	}
	exp := -nFrac
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i >= len(s) {
			return bad()
		}
		e := 0
		for i < len(s) && isDigit(s[i]) {
			// Saturate: anything this large is out of range anyway, and the
			// cap keeps the arithmetic from overflowing.
			if e < 1_000_000 {
				e = e*10 + int(s[i]-'0')
			}
			i++
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(s) {
		return bad()
	}
	return normalize(neg, coef.String(), exp)
}

// MustParseNumber is ParseNumber for literals known to be valid; it panics otherwise.
func MustParseNumber(s string) Number {
	n, err := ParseNumber(s)
	if err != nil {
		panic(err)
	}
	return n
}

// NumberFromInt returns the Number equal to i.
func NumberFromInt(i int64) Number {
	n, _ := normalize(i < 0, strings.TrimPrefix(big.NewInt(i).String(), "-"), 0)
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// normalize strips leading and trailing zeros from the coefficient digits and
// checks DynamoDB's range and precision limits.
func normalize(neg bool, digits string, exp int) (Number, error) {
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return Number{}, nil
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = trimmed
	adj := exp + len(digits) - 1
	switch {
	case adj > maxAdjExp:
		return Number{}, validationf(msgOverflow)
	case adj < minAdjExp:
		return Number{}, validationf(msgUnderflow)
	case len(digits) > maxDigits:
		return Number{}, validationf(msgTooManyDigits)
	}
	return Number{neg: neg, digits: digits, exp: exp}, nil
}

// IsZero reports whether n is zero.
func (n Number) IsZero() bool { return n.digits == "" }

// Sign returns -1, 0 or +1.
func (n Number) Sign() int {
	switch {
	case n.digits == "":
		return 0
	case n.neg:
		return -1
	}
	return 1
}

// Digits returns the number of significant digits (0 for zero).
func (n Number) Digits() int { return len(n.digits) }

// String renders n in plain decimal notation without exponent, as DynamoDB
// returns numbers: "1.50" → "1.5", "1E2" → "100", "-0" → "0".
func (n Number) String() string {
	if n.digits == "" {
		return "0"
	}
	var b strings.Builder
	if n.neg {
		b.WriteByte('-')
	}
	switch point := len(n.digits) + n.exp; {
	case n.exp >= 0:
		b.WriteString(n.digits)
		for range n.exp {
			b.WriteByte('0')
		}
	case point > 0:
		b.WriteString(n.digits[:point])
		b.WriteByte('.')
		b.WriteString(n.digits[point:])
	default:
		b.WriteString("0.")
		for range -point {
			b.WriteByte('0')
		}
		b.WriteString(n.digits)
	}
	return b.String()
}

// Cmp compares n and m numerically: -1 if n < m, 0 if equal, +1 if n > m.
func (n Number) Cmp(m Number) int {
	sn, sm := n.Sign(), m.Sign()
	if sn != sm {
		if sn < sm {
			return -1
		}
		return 1
	}
	if sn == 0 {
		return 0
	}
	c := cmpMagnitude(n, m)
	if sn < 0 {
		return -c
	}
	return c
}

func cmpMagnitude(n, m Number) int {
	an, am := n.exp+len(n.digits), m.exp+len(m.digits)
	if an != am {
		if an < am {
			return -1
		}
		return 1
	}
	// Same position of the leading digit: compare digit by digit; since
	// neither has trailing zeros, the longer one is larger when one is a
	// prefix of the other.
	return strings.Compare(n.digits, m.digits)
}

// Add returns n + m, or a ValidationException error when the exact result
// does not fit DynamoDB's limits (DynamoDB never rounds).
func (n Number) Add(m Number) (Number, error) {
	if n.IsZero() {
		return m, nil
	}
	if m.IsZero() {
		return n, nil
	}
	exp := min(n.exp, m.exp)
	a := n.scaled(exp)
	a.Add(a, m.scaled(exp))
	neg := a.Sign() < 0
	return normalize(neg, strings.TrimPrefix(a.String(), "-"), exp)
}

// Sub returns n - m with the same rules as Add.
func (n Number) Sub(m Number) (Number, error) { return n.Add(m.Neg()) }

// Neg returns -n.
func (n Number) Neg() Number {
	if n.IsZero() {
		return n
	}
	n.neg = !n.neg
	return n
}

// scaled returns the coefficient of n expressed at exponent exp (exp <= n.exp).
func (n Number) scaled(exp int) *big.Int {
	v, _ := new(big.Int).SetString(n.digits, 10)
	if d := n.exp - exp; d > 0 {
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil))
	}
	if n.neg {
		v.Neg(v)
	}
	return v
}

// size is DynamoDB's storage size of a number: about one byte per two
// significant digits plus one.
func (n Number) size() int { return (len(n.digits)+1)/2 + 1 }
