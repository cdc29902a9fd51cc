// Package backoff holds the replicator's generic waiting: capped exponential
// back-off with seeded jitter, sleeps that end with their context, and the
// bounded retry of start-up checks. Nothing in it knows about Kinesis,
// DynamoDB or Kafka.
//
// Contract:
//   - Exponential(base, max, failures) is base doubled for each failure after
//     the first, capped at max: base, 2·base, 4·base, ... max.
//   - Jitter(rnd, d) is uniform in [d/2, d] and draws exactly one number from
//     rnd, so a seeded rnd gives the same waits on every run.
//   - SleepUntil returns nil once t is reached and ctx's error as soon as ctx
//     ends; a t already past returns at once (ctx's error if ctx is done).
//   - Retry calls f until it succeeds, ctx ends or timeout passes, waiting
//     100ms, 200ms, ... up to 2s between attempts; no attempt outlives the
//     timeout. The error names what was retried and wraps the last failure
//     (and ctx's error when ctx ended), so an unreachable dependency becomes a
//     clear error, not a hang. With a logger, every failed attempt that will
//     be retried is logged at warn level naming the dependency.
package backoff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Exponential is the wait after the given number of consecutive failures
// (1 for the first): base·2^(failures-1), capped at max.
func Exponential(base, max time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Jitter is full jitter over the upper half of d: uniform in [d/2, d].
func Jitter(rnd *rand.Rand, d time.Duration) time.Duration {
	return d/2 + time.Duration(rnd.Int64N(int64(d/2)+1))
}

// SleepUntil waits until t or until ctx ends, whichever comes first.
func SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// Retry calls f until it succeeds, ctx ends, or timeout passes, sleeping
// with capped exponential back-off between attempts. It is for start-up
// checks. logger may be nil; otherwise each failed attempt that is retried
// is logged at warn level, so a start-up stuck on an unreachable or misnamed
// dependency is visible before the timeout ends it.
func Retry(ctx context.Context, logger *slog.Logger, timeout time.Duration, what string, f func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	wait := 100 * time.Millisecond
	var last error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithDeadline(ctx, deadline)
		last = f(actx)
		cancel()
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, errors.Join(ctx.Err(), last))
		}
		if !time.Now().Add(wait).Before(deadline) {
			return fmt.Errorf("%s: still failing after %d attempts in %s: %w", what, attempt, timeout, last)
		}
		if logger != nil {
			logger.Warn("start-up dependency not ready; retrying", "dependency", what, "attempt", attempt, "retry_in", wait, "error", last)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, errors.Join(ctx.Err(), last))
		case <-t.C:
		}
		wait = min(wait*2, 2*time.Second)
	}
}
