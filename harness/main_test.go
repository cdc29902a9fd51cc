package harness

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBuiltBinary() // built once for the child-process tests
	os.Exit(code)
}
