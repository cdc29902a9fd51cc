// Package expr implements DynamoDB's expression language for the in-process
// emulator: condition and filter expressions, key condition expressions,
// update expressions and projection expressions.
//
// Contract: every expression is lexed and parsed by hand-written code
// (backtracking recursive descent, no generators), then checked the way
// DynamoDB checks it — reserved words, undefined or unused placeholders,
// unknown or misused functions, operand counts and constant operand types,
// overlapping document paths, duplicate update clauses, redundant
// parentheses — and every problem is an *Error whose message matches
// DynamoDB's ValidationException text, e.g.
//
//	Invalid ConditionExpression: Syntax error; token: "AND", near: "a AND AND"
//
// Parsing never panics on any input (the package is fuzzed). Evaluation
// follows DynamoDB's semantics: a missing attribute is never equal to
// anything, comparisons between different types are false rather than
// errors, update values are all computed from the item as it was before the
// update, and runtime type problems in updates are *Error too. Parsed
// expressions are immutable and safe to evaluate from many goroutines.
package expr

import (
	"fmt"
	"sort"
	"strings"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

// Error is a DynamoDB ValidationException message.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) *Error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Env holds one request's ExpressionAttributeNames and
// ExpressionAttributeValues and records which of them the request's
// expressions used, so CheckUnused can reject leftovers as DynamoDB does.
// An Env belongs to one request and is not safe for concurrent use.
type Env struct {
	names      map[string]string
	values     map[string]attr.Value
	usedNames  map[string]bool
	usedValues map[string]bool
}

// NewEnv returns an Env over the request's placeholder maps (either may be nil).
func NewEnv(names map[string]string, values map[string]attr.Value) *Env {
	return &Env{names: names, values: values, usedNames: map[string]bool{}, usedValues: map[string]bool{}}
}

// CheckUnused reports placeholders that no parsed expression referenced:
// "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}".
func (e *Env) CheckUnused() error {
	if msg := unused("ExpressionAttributeNames", e.names, e.usedNames); msg != "" {
		return &Error{Msg: msg}
	}
	vals := make(map[string]string, len(e.values))
	for k := range e.values {
		vals[k] = ""
	}
	if msg := unused("ExpressionAttributeValues", vals, e.usedValues); msg != "" {
		return &Error{Msg: msg}
	}
	return nil
}

func unused(what string, m map[string]string, used map[string]bool) string {
	var keys []string
	for k := range m {
		if !used[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	return fmt.Sprintf("Value provided in %s unused in expressions: keys: {%s}", what, strings.Join(keys, ", "))
}

// maxExpressionBytes is DynamoDB's limit on the length of any expression.
const maxExpressionBytes = 4096

func precheck(label, src string) *Error {
	if strings.TrimSpace(src) == "" {
		return errorf("Invalid %s: The expression can not be empty;", label)
	}
	if len(src) > maxExpressionBytes {
		return errorf("Invalid %s: Expression size has exceeded the maximum allowed size; expression size: %d", label, len(src))
	}
	return nil
}
