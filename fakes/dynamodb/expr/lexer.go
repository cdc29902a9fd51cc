package expr

import (
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF      tokKind = iota
	tIdent            // bare name, keyword or function name: [A-Za-z][A-Za-z0-9_]*
	tName             // #placeholder
	tValue            // :placeholder
	tNumber           // list index digits
	tLParen           // (
	tRParen           // )
	tLBracket         // [
	tRBracket         // ]
	tComma            // ,
	tDot              // .
	tEq               // =
	tNe               // <>
	tLt               // <
	tLe               // <=
	tGt               // >
	tGe               // >=
	tPlus             // +
	tMinus            // -
	tInvalid          // a character DynamoDB's lexer does not know
)

type token struct {
	kind     tokKind
	text     string
	pos, end int // byte offsets in the source
}

func isLetter(c byte) bool    { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }
func isWordByte(c byte) bool  { return isLetter(c) || isDigitByte(c) || c == '_' }

// lex splits src into tokens. It never fails: characters DynamoDB does not
// accept become tInvalid tokens so the parser reports them as syntax errors
// with the usual token/near context. The final token is always tEOF,
// positioned at the end of the last real token so "near" never shows
// trailing blanks.
func lex(src string) []token {
	toks := make([]token, 0, len(src)/3+2)
	i := 0
	lastEnd := 0
	for i < len(src) {
		c := src[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		start := i
		kind := tInvalid
		switch {
		case isLetter(c):
			for i++; i < len(src) && isWordByte(src[i]); i++ {
			}
			kind = tIdent
		case isDigitByte(c):
			for i++; i < len(src) && isDigitByte(src[i]); i++ {
			}
			kind = tNumber
		case c == '#' || c == ':':
			j := i + 1
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			if j > i+1 {
				i = j
				kind = tName
				if c == ':' {
					kind = tValue
				}
			} else {
				i++
			}
		case c == '<':
			i++
			kind = tLt
			if i < len(src) && src[i] == '>' {
				i++
				kind = tNe
			} else if i < len(src) && src[i] == '=' {
				i++
				kind = tLe
			}
		case c == '>':
			i++
			kind = tGt
			if i < len(src) && src[i] == '=' {
				i++
				kind = tGe
			}
		default:
			i++
			switch c {
			case '(':
				kind = tLParen
			case ')':
				kind = tRParen
			case '[':
				kind = tLBracket
			case ']':
				kind = tRBracket
			case ',':
				kind = tComma
			case '.':
				kind = tDot
			case '=':
				kind = tEq
			case '+':
				kind = tPlus
			case '-':
				kind = tMinus
			default:
				if c >= utf8.RuneSelf {
					_, size := utf8.DecodeRuneInString(src[start:])
					i = start + size
				}
			}
		}
		toks = append(toks, token{kind: kind, text: src[start:i], pos: start, end: i})
		lastEnd = i
	}
	return append(toks, token{kind: tEOF, text: "<EOF>", pos: lastEnd, end: lastEnd})
}

// isKeyword reports whether t is the bare word kw, case-insensitively.
func (t token) isKeyword(kw string) bool {
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}
