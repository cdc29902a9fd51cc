// Package reporttest checks JSON reports against the committed schema,
// docs/report.schema.json, for the tests of whatever writes them.
package reporttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaPath is the schema file, relative to the module's root.
const SchemaPath = "docs/report.schema.json"

// SchemaFile finds the schema from the working directory (a test's is its
// package directory): the nearest parent holding go.mod is the root.
func SchemaFile() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("reporttest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, SchemaPath), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("reporttest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// LoadSchema reads the schema as a JSON document.
func LoadSchema() (map[string]any, error) {
	path, err := SchemaFile()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reporttest: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("reporttest: %s: %w", path, err)
	}
	return doc, nil
}

// Compile compiles the schema, asserting formats (date-time) too: in draft
// 2020-12 they are annotations unless a validator is told otherwise.
func Compile() (*jsonschema.Schema, error) {
	path, err := SchemaFile()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reporttest: %w", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("reporttest: %s: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(path, doc); err != nil {
		return nil, fmt.Errorf("reporttest: %s: %w", path, err)
	}
	s, err := c.Compile(path)
	if err != nil {
		return nil, fmt.Errorf("reporttest: compile %s: %w", path, err)
	}
	return s, nil
}

// Validate checks one JSON report against the schema.
func Validate(s *jsonschema.Schema, report []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(report))
	if err != nil {
		return fmt.Errorf("reporttest: not JSON: %w", err)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("reporttest: the report does not match %s: %w", SchemaPath, err)
	}
	return nil
}
