package source

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRetryLoggedNamesTheDependencyOnEachFailedAttempt(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	calls := 0
	err := RetryLogged(context.Background(), logger, 5*time.Second, "dynamodb lease table orders", func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection refused")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("RetryLogged: %v", err)
	}
	if got := strings.Count(buf.String(), `"dependency":"dynamodb lease table orders"`); got != 2 {
		t.Fatalf("want 2 warnings naming the dependency, got %d:\n%s", got, buf.String())
	}
}
