package expr

import (
	"strings"
	"testing"
)

// TestDeepNesting covers inputs that make naive backtracking parsers blow
// up; the operand memo keeps them linear.
func TestDeepNesting(t *testing.T) {
	vals := mustValues(t, `{":v":{"N":"1"}}`)
	for _, tc := range []struct{ src, want string }{
		{strings.Repeat("(", 2000) + "a = :v" + strings.Repeat(")", 2000), "redundant parentheses"},
		{strings.Repeat("(", 4000), `token: "<EOF>", near: "("`},
		{"(" + strings.Repeat("(", 1000) + "a" + strings.Repeat(")", 1000) + " = :v)", "redundant parentheses"},
		{strings.Repeat("NOT ", 1000) + "a = :v", ""},
		{strings.Repeat("(", 1300) + "a = :v AND", `token: "<EOF>", near: "AND"`},
		{strings.Repeat("(a) = :v AND ", 300) + "(a) = :v", ""},
		{strings.Repeat("size(", 100) + "a" + strings.Repeat(")", 100) + " = :v", ""},
	} {
		_, err := ParseCondition("ConditionExpression", tc.src, NewEnv(nil, vals))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%.40q...: %v", tc.src, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%.40q...: got %v, want %q", tc.src, err, tc.want)
		}
	}
}
