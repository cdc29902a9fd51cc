package config

import (
	"fmt"
	"regexp"
	"strings"
)

// StreamARN is a parsed Kinesis data stream ARN,
// arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME.
type StreamARN struct {
	Partition string // aws, aws-cn, aws-us-gov, ...
	Region    string
	Account   string // 12 digits
	Name      string
}

// String is the ARN's text.
func (a StreamARN) String() string {
	return "arn:" + a.Partition + ":kinesis:" + a.Region + ":" + a.Account + ":stream/" + a.Name
}

var (
	partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	// Kinesis stream names: 1..128 of letters, digits, '_', '.', '-'.
	streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	// IAM role names: 1..64 of letters, digits and +=,.@_-, after an
	// optional path.
	roleNameRE = regexp.MustCompile(`^([\x21-\x7e]+/)?[\w+=,.@-]{1,64}$`)
	// STS session names and external ids.
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDRE  = regexp.MustCompile(`^[\w+=,.@:/-]+$`) // and 2..1224 long
)

// IsARN reports whether s looks like an ARN rather than a plain name: a
// stream name cannot contain ':'.
func IsARN(s string) bool { return strings.HasPrefix(s, "arn:") }

// ParseStreamARN parses and checks a Kinesis stream ARN; the error names the
// part that is wrong.
func ParseStreamARN(s string) (StreamARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return StreamARN{}, fmt.Errorf("%q is not an ARN (want arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)", s)
	}
	a := StreamARN{Partition: parts[1], Region: parts[3], Account: parts[4]}
	switch {
	case !partitionRE.MatchString(a.Partition):
		return StreamARN{}, fmt.Errorf("%q: partition %q is not an AWS partition (aws, aws-cn, aws-us-gov, ...)", s, a.Partition)
	case parts[2] != "kinesis":
		return StreamARN{}, fmt.Errorf("%q: service %q is not kinesis", s, parts[2])
	case !regionRE.MatchString(a.Region):
		return StreamARN{}, fmt.Errorf("%q: region %q is not a region name (e.g. eu-west-1)", s, a.Region)
	case !accountRE.MatchString(a.Account):
		return StreamARN{}, fmt.Errorf("%q: account %q is not a 12-digit account id", s, a.Account)
	}
	name, ok := strings.CutPrefix(parts[5], "stream/")
	if !ok {
		return StreamARN{}, fmt.Errorf("%q: resource %q is not stream/NAME", s, parts[5])
	}
	if !streamNameRE.MatchString(name) {
		return StreamARN{}, fmt.Errorf("%q: stream name %q is not 1..128 letters, digits, '_', '.' or '-'", s, name)
	}
	a.Name = name
	return a, nil
}

// checkRoleARN checks an IAM role ARN, arn:PARTITION:iam::ACCOUNT:role/NAME.
func checkRoleARN(s string) error {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return fmt.Errorf("%q is not an ARN (want arn:aws:iam::ACCOUNT:role/NAME)", s)
	}
	switch {
	case !partitionRE.MatchString(parts[1]):
		return fmt.Errorf("%q: partition %q is not an AWS partition", s, parts[1])
	case parts[2] != "iam":
		return fmt.Errorf("%q: service %q is not iam", s, parts[2])
	case parts[3] != "":
		return fmt.Errorf("%q: an IAM ARN has no region (found %q)", s, parts[3])
	case !accountRE.MatchString(parts[4]):
		return fmt.Errorf("%q: account %q is not a 12-digit account id", s, parts[4])
	}
	name, ok := strings.CutPrefix(parts[5], "role/")
	if !ok || !roleNameRE.MatchString(name) {
		return fmt.Errorf("%q: resource %q is not role/NAME", s, parts[5])
	}
	return nil
}

// Stream returns the stream's name and, when it was given as an ARN, the
// parsed ARN (ok false otherwise). Call it on a validated Config.
func (c Config) Stream() (name string, arn StreamARN, ok bool) {
	text := c.StreamARN
	if text == "" && IsARN(c.StreamName) {
		text = c.StreamName
	}
	if text == "" {
		return c.StreamName, StreamARN{}, false
	}
	a, err := ParseStreamARN(text)
	if err != nil {
		return c.StreamName, StreamARN{}, false
	}
	return a.Name, a, true
}

// StreamRegion is the region of the stream: KCL_REGION, else the ARN's,
// else "" (the SDK's default chain).
func (c Config) StreamRegion() string {
	if c.Region != "" {
		return c.Region
	}
	if _, a, ok := c.Stream(); ok {
		return a.Region
	}
	return ""
}

// LeaseTableRegion is the region of the lease table:
// REPLICATOR_LEASE_TABLE_REGION, else the stream's.
func (c Config) LeaseTableRegion() string {
	if c.LeaseTableRegionOverride != "" {
		return c.LeaseTableRegionOverride
	}
	return c.StreamRegion()
}

// checkStream is KCL_STREAM_NAME and KCL_STREAM_ARN together (one of them is
// set): an ARN must parse, and a name given beside an ARN must be the
// ARN's, as must KCL_REGION.
func (c Config) checkStream() error {
	if c.StreamARN != "" && !IsARN(c.StreamARN) {
		return fmt.Errorf("KCL_STREAM_ARN: %q is not an ARN (want arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)", c.StreamARN)
	}
	env, text := "KCL_STREAM_ARN", c.StreamARN
	if text == "" && IsARN(c.StreamName) {
		env, text = "KCL_STREAM_NAME", c.StreamName
	}
	if text == "" {
		if !streamNameRE.MatchString(c.StreamName) {
			return fmt.Errorf("KCL_STREAM_NAME: %q is not a stream name (1..128 letters, digits, '_', '.' or '-') or a stream ARN", c.StreamName)
		}
		return nil
	}
	a, err := ParseStreamARN(text)
	if err != nil {
		return fmt.Errorf("%s: %w", env, err)
	}
	if c.StreamName != "" && c.StreamName != text && c.StreamName != a.Name {
		return fmt.Errorf("KCL_STREAM_NAME: %q differs from the stream of KCL_STREAM_ARN (%s); set one of them", c.StreamName, a.Name)
	}
	if c.Region != "" && c.Region != a.Region {
		return fmt.Errorf("KCL_REGION: %s differs from the region of the stream ARN (%s); leave it empty, and set REPLICATOR_LEASE_TABLE_REGION for a lease table in another region", c.Region, a.Region)
	}
	return nil
}

// SessionName is the STS session name of the assumed roles.
func (c Config) SessionName() string {
	if c.RoleSessionName != "" {
		return c.RoleSessionName
	}
	return "shardbridge"
}

// StreamRef is how Kinesis calls name the stream: its ARN when one was
// given, else its name.
func (c Config) StreamRef() string {
	name, arn, ok := c.Stream()
	if ok {
		return arn.String()
	}
	return name
}
