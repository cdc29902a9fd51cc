package expr

import "strings"

// grammar selects which bare words are keywords (and so cannot be names).
type grammar uint8

const (
	gCondition grammar = iota
	gUpdate
	gProjection
)

var conditionKeywords = []string{"AND", "OR", "NOT", "BETWEEN", "IN"}
var updateKeywords = []string{"SET", "REMOVE", "ADD", "DELETE"}

// maxINOperands is DynamoDB's limit on the right-hand side of IN.
const maxINOperands = 100

// parser is a backtracking recursive-descent parser over a token slice. On
// failure it reports the furthest token any alternative reached, the way
// DynamoDB names the offending token.
type parser struct {
	src    string
	label  string // "ConditionExpression", "UpdateExpression", ...
	g      grammar
	toks   []token
	pos    int
	errTok int // furthest failing token, -1 if none
	// opMemo caches parseOperand by start token. Backtracking between a
	// parenthesised condition and a parenthesised operand would otherwise
	// re-parse nested operands at every level (quadratic in nesting depth).
	opMemo []opMemo
}

type opMemo struct {
	done bool
	ok   bool
	op   *operand
	end  int
}

func newParser(src, label string, g grammar) *parser {
	toks := lex(src)
	return &parser{src: src, label: label, g: g, toks: toks, errTok: -1, opMemo: make([]opMemo, len(toks))}
}

func (p *parser) tok() token { return p.toks[p.pos] }

func (p *parser) peek(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return p.toks[len(p.toks)-1]
}

// fail records a syntax failure at the current token and returns false.
func (p *parser) fail() bool {
	if p.pos > p.errTok {
		p.errTok = p.pos
	}
	return false
}

func (p *parser) accept(k tokKind) bool {
	if p.tok().kind == k {
		p.pos++
		return true
	}
	return p.fail()
}

func (p *parser) isKeywordTok(t token) bool {
	if t.kind != tIdent {
		return false
	}
	var kws []string
	switch p.g {
	case gCondition:
		kws = conditionKeywords
	case gUpdate:
		kws = updateKeywords
	}
	for _, kw := range kws {
		if strings.EqualFold(t.text, kw) {
			return true
		}
	}
	return false
}

// syntaxError renders the furthest failure: the offending token and the
// source text from the token before it to the token after it.
func (p *parser) syntaxError() *Error {
	i := p.errTok
	if i < 0 {
		i = p.pos
	}
	t := p.toks[i]
	start := t.pos
	if i > 0 {
		start = p.toks[i-1].pos
	}
	end := t.end
	if t.kind != tEOF && i+1 < len(p.toks) && p.toks[i+1].kind != tEOF {
		end = p.toks[i+1].end
	}
	return errorf("Invalid %s: Syntax error; token: \"%s\", near: \"%s\"", p.label, t.text, p.src[start:end])
}

// ---- conditions ----

func (p *parser) parseOr() (*node, bool) {
	l, ok := p.parseAnd()
	if !ok {
		return nil, false
	}
	for p.tok().isKeyword("OR") {
		p.pos++
		r, ok := p.parseAnd()
		if !ok {
			return nil, false
		}
		l = &node{kind: nOr, l: l, r: r}
	}
	return l, true
}

func (p *parser) parseAnd() (*node, bool) {
	l, ok := p.parseNot()
	if !ok {
		return nil, false
	}
	for p.tok().isKeyword("AND") {
		p.pos++
		r, ok := p.parseNot()
		if !ok {
			return nil, false
		}
		l = &node{kind: nAnd, l: l, r: r}
	}
	return l, true
}

func (p *parser) parseNot() (*node, bool) {
	if p.tok().isKeyword("NOT") {
		p.pos++
		x, ok := p.parseNot()
		if !ok {
			return nil, false
		}
		return &node{kind: nNot, l: x}, true
	}
	return p.parsePrimary()
}

// continuesComparison reports whether the current token can only follow an
// operand, so a parenthesised prefix must have been an operand, not a group.
func (p *parser) continuesComparison() bool {
	switch t := p.tok(); t.kind {
	case tEq, tNe, tLt, tLe, tGt, tGe:
		return true
	case tIdent:
		return t.isKeyword("BETWEEN") || t.isKeyword("IN")
	}
	return false
}

func (p *parser) parsePrimary() (*node, bool) {
	start := p.pos
	if p.tok().kind == tLParen {
		p.pos++
		if inner, ok := p.parseOr(); ok && p.tok().kind == tRParen {
			p.pos++
			if !p.continuesComparison() {
				if inner.grouped {
					inner.redundant = true
				}
				inner.grouped = true
				return inner, true
			}
		} else if ok {
			p.fail()
		}
		// Not a parenthesised condition: maybe a parenthesised operand.
		p.pos = start
	}
	return p.parseComparison()
}

func (p *parser) parseComparison() (*node, bool) {
	x, ok := p.parseOperand()
	if !ok {
		return nil, false
	}
	t := p.tok()
	switch t.kind {
	case tEq, tNe, tLt, tLe, tGt, tGe:
		p.pos++
		y, ok := p.parseOperand()
		if !ok {
			return nil, false
		}
		return &node{kind: nCmp, op: t.text, args: []*operand{x, y}}, true
	}
	switch {
	case t.isKeyword("BETWEEN"):
		p.pos++
		lo, ok := p.parseOperand()
		if !ok {
			return nil, false
		}
		if !p.tok().isKeyword("AND") {
			return nil, p.fail()
		}
		p.pos++
		hi, ok := p.parseOperand()
		if !ok {
			return nil, false
		}
		return &node{kind: nBetween, args: []*operand{x, lo, hi}}, true
	case t.isKeyword("IN"):
		p.pos++
		if !p.accept(tLParen) {
			return nil, false
		}
		args := []*operand{x}
		for {
			y, ok := p.parseOperand()
			if !ok {
				return nil, false
			}
			args = append(args, y)
			if p.tok().kind != tComma {
				break
			}
			p.pos++
		}
		if !p.accept(tRParen) {
			return nil, false
		}
		return &node{kind: nIn, args: args}, true
	}
	if x.kind == opCall {
		return &node{kind: nCall, args: []*operand{x}}, true
	}
	return nil, p.fail()
}

// parseOperand parses a path, :value, function call or a parenthesised
// operand. Results are memoised per start position and never mutated
// afterwards, so callers may share them.
func (p *parser) parseOperand() (*operand, bool) {
	start := p.pos
	if m := p.opMemo[start]; m.done {
		if m.ok {
			p.pos = m.end
		}
		return m.op, m.ok
	}
	op, ok := p.parseOperandUncached()
	if !ok {
		p.pos = start
	}
	p.opMemo[start] = opMemo{done: true, ok: ok, op: op, end: p.pos}
	return op, ok
}

func (p *parser) parseOperandUncached() (*operand, bool) {
	t := p.tok()
	switch t.kind {
	case tLParen:
		p.pos++
		inner, ok := p.parseOperand()
		if !ok || !p.accept(tRParen) {
			return nil, false
		}
		wrapped := *inner
		wrapped.parens++
		return &wrapped, true
	case tValue:
		p.pos++
		return &operand{kind: opValue, ref: t.text}, true
	case tIdent:
		if p.peek(1).kind == tLParen && !p.isKeywordTok(t) {
			p.pos += 2
			var args []*operand
			for {
				a, ok := p.parseOperand()
				if !ok {
					return nil, false
				}
				args = append(args, a)
				if p.tok().kind != tComma {
					break
				}
				p.pos++
			}
			if !p.accept(tRParen) {
				return nil, false
			}
			return &operand{kind: opCall, fn: t.text, args: args}, true
		}
	}
	path, ok := p.parsePath()
	if !ok {
		return nil, false
	}
	return &operand{kind: opPath, path: path}, true
}

func (p *parser) parsePath() (*rawPath, bool) {
	rp := &rawPath{}
	elem := func() bool {
		t := p.tok()
		switch {
		case t.kind == tName:
			rp.elems = append(rp.elems, rawElem{text: t.text, ref: true})
		case t.kind == tIdent && !p.isKeywordTok(t):
			rp.elems = append(rp.elems, rawElem{text: t.text})
		default:
			return p.fail()
		}
		p.pos++
		return true
	}
	if !elem() {
		return nil, false
	}
	for {
		switch p.tok().kind {
		case tDot:
			p.pos++
			if !elem() {
				return nil, false
			}
		case tLBracket:
			p.pos++
			t := p.tok()
			if t.kind != tNumber {
				return nil, p.fail()
			}
			p.pos++
			if !p.accept(tRBracket) {
				return nil, false
			}
			rp.elems = append(rp.elems, rawElem{index: atoiSaturating(t.text), isIndex: true})
		default:
			return rp, true
		}
	}
}

// atoiSaturating parses a list index; absurdly large indexes saturate (they
// address nothing either way).
func atoiSaturating(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if n > 1<<40 {
			return n
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// ---- update expressions ----

func (p *parser) parseUpdate() ([]action, []actionKind, bool) {
	var actions []action
	var sections []actionKind
	for {
		t := p.tok()
		kind := actionKind(255)
		for k, name := range actionNames {
			if t.isKeyword(name) {
				kind = actionKind(k)
			}
		}
		if kind == 255 {
			return nil, nil, p.fail()
		}
		p.pos++
		sections = append(sections, kind)
		for {
			a, ok := p.parseAction(kind)
			if !ok {
				return nil, nil, false
			}
			actions = append(actions, a)
			if p.tok().kind != tComma {
				break
			}
			p.pos++
		}
		if p.tok().kind == tEOF {
			return actions, sections, true
		}
	}
}

func (p *parser) parseAction(kind actionKind) (action, bool) {
	path, ok := p.parsePath()
	if !ok {
		return action{}, false
	}
	a := action{kind: kind, path: path}
	switch kind {
	case aSet:
		if !p.accept(tEq) {
			return action{}, false
		}
		return a, p.parseSetValue(&a)
	case aAdd, aDelete:
		t := p.tok()
		if t.kind != tValue {
			return action{}, p.fail()
		}
		p.pos++
		a.a = &operand{kind: opValue, ref: t.text}
	}
	return a, true
}

// parseSetValue parses "operand", "operand + operand", "operand - operand",
// optionally wrapped as a whole in parentheses.
func (p *parser) parseSetValue(a *action) bool {
	start := p.pos
	if p.tok().kind == tLParen {
		p.pos++
		if p.parseArith(a) && a.op != 0 && p.accept(tRParen) {
			return true
		}
		p.pos = start
		a.a, a.b, a.op = nil, nil, 0
	}
	return p.parseArith(a)
}

func (p *parser) parseArith(a *action) bool {
	x, ok := p.parseOperand()
	if !ok {
		return false
	}
	a.a = x
	if k := p.tok().kind; k == tPlus || k == tMinus {
		p.pos++
		y, ok := p.parseOperand()
		if !ok {
			return false
		}
		a.b = y
		a.op = '+'
		if k == tMinus {
			a.op = '-'
		}
	}
	return true
}

// ---- projections ----

func (p *parser) parseProjection() ([]*rawPath, bool) {
	var paths []*rawPath
	for {
		rp, ok := p.parsePath()
		if !ok {
			return nil, false
		}
		paths = append(paths, rp)
		if p.tok().kind != tComma {
			break
		}
		p.pos++
	}
	if p.tok().kind != tEOF {
		return nil, p.fail()
	}
	return paths, true
}
