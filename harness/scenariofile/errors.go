package scenariofile

import (
	"fmt"
	"strings"
)

// Error is one mistake in a scenario file, at a line, in a field.
type Error struct {
	File  string // as given to Load or Decode
	Line  int    // 1-based; 0 when the mistake has no line (an empty file)
	Field string // the field's path, e.g. schedule[1].action.split_shard
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// List is every mistake found in a file, in the order of the file.
type List []*Error

func (l List) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As find each *Error.
func (l List) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
