package kinesis

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Error codes the emulator answers with. They are the shape names of the
// Kinesis model, so aws-sdk-go-v2 decodes them into its typed errors.
const (
	errInvalidArgument     = "InvalidArgumentException"
	errResourceNotFound    = "ResourceNotFoundException"
	errResourceInUse       = "ResourceInUseException"
	errLimitExceeded       = "LimitExceededException"
	errExpiredIterator     = "ExpiredIteratorException"
	errExpiredNextToken    = "ExpiredNextTokenException"
	errThroughputExceeded  = "ProvisionedThroughputExceededException"
	errSerialization       = "SerializationException"
	errUnknownOperation    = "UnknownOperationException"
	errInternalFailure     = "InternalFailure"
	errMissingAction       = "MissingAction"
	contentTypeJSON11      = "application/x-amz-json-1.1"
	targetPrefix           = "Kinesis_20131202."
	maxRequestBody         = 64 << 20 // generous: a 10 MiB PutRecords grows by a third in base64
	defaultRegion          = "us-east-1"
	defaultAccount         = "000000000000"
	defaultRetentionHours  = 24
	minRetentionHours      = 24
	maxRetentionHours      = 8760
	onDemandShardCount     = 4 // a new ON_DEMAND stream's shards
	modeProvisioned        = "PROVISIONED"
	modeOnDemand           = "ON_DEMAND"
	maxShardsPerStream     = 10000
	defaultDescribeLimit   = 100
	defaultListShardsLimit = 1000
	defaultListStreamLimit = 100
)

// apiError is an AWS-shaped failure: HTTP status plus the JSON body
// {"__type": code, "message": msg}.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func newErr(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

func invalidArg(format string, args ...any) *apiError {
	return newErr(errInvalidArgument, format, args...)
}

// maxEpochSeconds bounds accepted timestamps (about 31 million years).
const maxEpochSeconds = 1e15

// epochMillis is a timestamp on the wire: JSON number of epoch seconds with
// millisecond precision, as the awsJson1_1 protocol encodes timestamps.
type epochMillis int64

func (t epochMillis) MarshalJSON() ([]byte, error) {
	return appendEpoch(nil, int64(t)), nil
}

func (t *epochMillis) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		// Some clients send timestamps as strings; accept numeric strings.
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	// Beyond ±1e15 s the milliseconds no longer fit an int64 (the float
	// conversion would wrap to a garbage instant): such a timestamp is
	// malformed input, not a point in time.
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= maxEpochSeconds {
		return fmt.Errorf("invalid timestamp %q", b)
	}
	*t = epochMillis(math.Round(f * 1000))
	return nil
}

// appendEpoch writes ms as seconds with exactly three decimals, avoiding the
// rounding surprises of formatting a float.
func appendEpoch(dst []byte, ms int64) []byte {
	if ms < 0 {
		dst = append(dst, '-')
		ms = -ms
	}
	dst = strconv.AppendInt(dst, ms/1000, 10)
	frac := ms % 1000
	dst = append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return dst
}

// appendJSONString appends s as a JSON string literal. Hot paths (GetRecords,
// PutRecords) build their responses by hand to stay cheap.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendBase64(dst, data []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, data)
	return append(dst, '"')
}

// Wire shapes shared by several operations.

type hashKeyRangeJSON struct {
	StartingHashKey string `json:"StartingHashKey"`
	EndingHashKey   string `json:"EndingHashKey"`
}

type seqRangeJSON struct {
	StartingSequenceNumber string `json:"StartingSequenceNumber"`
	EndingSequenceNumber   string `json:"EndingSequenceNumber,omitempty"`
}

type shardJSON struct {
	ShardId               string           `json:"ShardId"`
	ParentShardId         string           `json:"ParentShardId,omitempty"`
	AdjacentParentShardId string           `json:"AdjacentParentShardId,omitempty"`
	HashKeyRange          hashKeyRangeJSON `json:"HashKeyRange"`
	SequenceNumberRange   seqRangeJSON     `json:"SequenceNumberRange"`
}

type childShardJSON struct {
	ShardId      string           `json:"ShardId"`
	ParentShards []string         `json:"ParentShards"`
	HashKeyRange hashKeyRangeJSON `json:"HashKeyRange"`
}

type streamModeJSON struct {
	StreamMode string `json:"StreamMode"`
}

type enhancedMetricsJSON struct {
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

// streamRef is embedded in every request that names a stream.
type streamRef struct {
	StreamName *string `json:"StreamName"`
	StreamARN  *string `json:"StreamARN"`
}
