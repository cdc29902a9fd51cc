package lease

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
)

// errCode returns the AWS error code of err, or "" for errors that did not
// come from the service (network failures, timeouts).
func errCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// noSDKRetry turns the SDK's own retries off for a lease-table call: the
// manager retries itself, so it sees every failed attempt. That matters for
// correctness, not only for counting throttles: a conditional write the SDK
// retried after an ambiguous failure (timeout, 5xx) that had in fact landed
// comes back as a condition failure, and only a retry loop that saw the
// ambiguous attempt knows to check whether the write was its own. It also
// keeps a client's retry quota from turning a long throttling episode into
// failed calls.
func noSDKRetry(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} }

func isConditionFailed(err error) bool {
	return err != nil && errCode(err) == "ConditionalCheckFailedException"
}

func isThrottle(err error) bool {
	switch errCode(err) {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "Throttling":
		return true
	}
	return false
}

// serverSide reports 5xx-class errors: the write may or may not have been applied.
func serverSide(err error) bool {
	switch errCode(err) {
	case "InternalServerError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException":
		return true
	}
	return false
}

// retryable: worth another attempt within the same operation.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	return isThrottle(err) || serverSide(err) || errCode(err) == ""
}

// ambiguous: the request may have been applied although it reported failure
// (no answer, or a server-side error), so a later condition failure may be
// caused by our own earlier attempt.
func ambiguous(err error) bool {
	return err != nil && (serverSide(err) || errCode(err) == "")
}

func (m *Manager) countThrottle(err error) {
	if isThrottle(err) {
		m.mu.Lock()
		m.stats.Throttles++
		m.mu.Unlock()
	}
}

// retry runs fn up to the configured number of attempts while it fails with
// a transient error, sleeping with exponential backoff and jitter in between.
// Each attempt has its own timeout. It returns the last error and whether an
// earlier failed attempt may have been applied anyway.
func (m *Manager) retry(ctx context.Context, fn func(context.Context) error) (maybeApplied bool, err error) {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, m.cfg.callTimeout)
		err = fn(cctx)
		cancel()
		m.countThrottle(err)
		if err == nil || ctx.Err() != nil || !retryable(err) || attempt+1 >= m.cfg.attempts {
			return maybeApplied, err
		}
		maybeApplied = maybeApplied || ambiguous(err)
		if serr := m.cfg.sleep(ctx, m.backoff(attempt)); serr != nil {
			return maybeApplied, err
		}
	}
}

// backoff returns a delay in [d/2, d] with d = base·2^attempt capped at max.
func (m *Manager) backoff(attempt int) time.Duration {
	d := m.cfg.backoffBase << min(attempt, 20)
	if d > m.cfg.backoffMax || d <= 0 {
		d = m.cfg.backoffMax
	}
	m.mu.Lock()
	j := time.Duration(m.rng.Int64N(int64(d/2) + 1))
	m.mu.Unlock()
	return d/2 + j
}
