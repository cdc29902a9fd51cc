package backoff

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestExponentialIsCapped(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 5: 1600 * time.Millisecond, 6: 2 * time.Second, 40: 2 * time.Second} {
		if got := Exponential(100*time.Millisecond, 2*time.Second, n); got != want {
			t.Errorf("Exponential(100ms, 2s, %d) = %v, want %v", n, got, want)
		}
	}
}

func TestJitterIsSeededAndWithinBounds(t *testing.T) {
	a, b := rand.New(rand.NewPCG(3, 4)), rand.New(rand.NewPCG(3, 4))
	for d := time.Millisecond; d < time.Minute; d *= 3 {
		x, y := Jitter(a, d), Jitter(b, d)
		if x != y {
			t.Fatal("jitter is not seeded")
		}
		if x < d/2 || x > d {
			t.Fatalf("Jitter(%v) = %v, want within [%v, %v]", d, x, d/2, d)
		}
	}
}

func TestSleepUntilEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := SleepUntil(ctx, time.Now().Add(time.Minute)); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("SleepUntil = %v after %v", err, time.Since(start))
	}
	if err := SleepUntil(context.Background(), time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("past time: %v", err)
	}
}

func TestRetryNamesTheDependencyOnEachFailedAttempt(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	calls := 0
	err := Retry(context.Background(), logger, 5*time.Second, "dynamodb lease table orders", func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection refused")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if got := strings.Count(buf.String(), `"dependency":"dynamodb lease table orders"`); got != 2 {
		t.Fatalf("want 2 warnings naming the dependency, got %d:\n%s", got, buf.String())
	}
}

func TestRetryGivesUpAtTheTimeout(t *testing.T) {
	err := Retry(context.Background(), nil, 300*time.Millisecond, "kinesis stream orders", func(context.Context) error {
		return errors.New("connection refused")
	})
	if err == nil || !strings.HasPrefix(err.Error(), "kinesis stream orders: still failing after ") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Retry = %v", err)
	}
}
