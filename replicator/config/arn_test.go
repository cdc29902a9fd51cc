package config

import (
	"strings"
	"testing"
)

const ordersARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"

func TestParseStreamARN(t *testing.T) {
	a, err := ParseStreamARN("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b_c-1")
	if err != nil {
		t.Fatal(err)
	}
	if a != (StreamARN{Partition: "aws-cn", Region: "cn-north-1", Account: "123456789012", Name: "a.b_c-1"}) {
		t.Errorf("parsed %+v", a)
	}
	if a.String() != "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b_c-1" {
		t.Errorf("String() = %s", a)
	}
	for in, want := range map[string]string{
		"arn:aws:kinesis:eu-west-1:123456789012":                   "is not an ARN",
		"arn:azure:kinesis:eu-west-1:123456789012:stream/x":        `partition "azure"`,
		"arn:aws:dynamodb:eu-west-1:123456789012:stream/x":         `service "dynamodb"`,
		"arn:aws:kinesis:Europe:123456789012:stream/x":             `region "Europe"`,
		"arn:aws:kinesis::123456789012:stream/x":                   `region ""`,
		"arn:aws:kinesis:eu-west-1:1234:stream/x":                  `account "1234"`,
		"arn:aws:kinesis:eu-west-1:123456789012:table/x":           `resource "table/x"`,
		"arn:aws:kinesis:eu-west-1:123456789012:stream/":           `stream name ""`,
		"arn:aws:kinesis:eu-west-1:123456789012:stream/a b":        `stream name "a b"`,
		"arn:aws:kinesis:eu-west-1:123456789012:stream/x/consumer": `stream name "x/consumer"`,
	} {
		_, err := ParseStreamARN(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseStreamARN(%q) = %v, want an error mentioning %s", in, err, want)
		}
	}
}

func TestStreamByARN(t *testing.T) {
	for _, tc := range []struct {
		name         string
		set          map[string]string
		wantName     string
		wantRegion   string
		wantLease    string
		wantErrStart string
	}{
		{name: "ARN in KCL_STREAM_NAME", set: map[string]string{"KCL_STREAM_NAME": ordersARN},
			wantName: "orders", wantRegion: "eu-west-1", wantLease: "eu-west-1"},
		{name: "KCL_STREAM_ARN alone", set: map[string]string{"KCL_STREAM_NAME": "", "KCL_STREAM_ARN": ordersARN},
			wantName: "orders", wantRegion: "eu-west-1", wantLease: "eu-west-1"},
		{name: "matching name and ARN", set: map[string]string{"KCL_STREAM_ARN": ordersARN, "REPLICATOR_LEASE_TABLE_REGION": "us-east-2"},
			wantName: "orders", wantRegion: "eu-west-1", wantLease: "us-east-2"},
		{name: "same region twice", set: map[string]string{"KCL_STREAM_ARN": ordersARN, "KCL_REGION": "eu-west-1"},
			wantName: "orders", wantRegion: "eu-west-1", wantLease: "eu-west-1"},
		{name: "plain name", set: map[string]string{"KCL_REGION": "us-west-2"},
			wantName: "orders", wantRegion: "us-west-2", wantLease: "us-west-2"},
		{name: "name disagrees", set: map[string]string{"KCL_STREAM_NAME": "payments", "KCL_STREAM_ARN": ordersARN},
			wantErrStart: "KCL_STREAM_NAME: \"payments\" differs"},
		{name: "region disagrees", set: map[string]string{"KCL_STREAM_ARN": ordersARN, "KCL_REGION": "us-east-1"},
			wantErrStart: "KCL_REGION: us-east-1 differs from the region of the stream ARN (eu-west-1)"},
		{name: "malformed ARN in name", set: map[string]string{"KCL_STREAM_NAME": "arn:aws:kinesis:eu-west-1:12:stream/orders"},
			wantErrStart: "KCL_STREAM_NAME: \"arn:aws:kinesis:eu-west-1:12:stream/orders\": account \"12\""},
		{name: "KCL_STREAM_ARN not an ARN", set: map[string]string{"KCL_STREAM_ARN": "orders"},
			wantErrStart: "KCL_STREAM_ARN: \"orders\" is not an ARN"},
		{name: "bad name", set: map[string]string{"KCL_STREAM_NAME": "orders/x"},
			wantErrStart: "KCL_STREAM_NAME: \"orders/x\" is not a stream name"},
		{name: "nothing", set: map[string]string{"KCL_STREAM_NAME": ""},
			wantErrStart: "KCL_STREAM_NAME: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := minimal()
			for k, v := range tc.set {
				m[k] = v
			}
			c, err := Load(env(m))
			if tc.wantErrStart != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErrStart) {
					t.Fatalf("Load = %v, want an error starting %q", err, tc.wantErrStart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			name, a, ok := c.Stream()
			if name != tc.wantName || c.StreamRegion() != tc.wantRegion || c.LeaseTableRegion() != tc.wantLease {
				t.Errorf("stream %q region %q lease table region %q; want %q %q %q", name, c.StreamRegion(), c.LeaseTableRegion(), tc.wantName, tc.wantRegion, tc.wantLease)
			}
			if byARN := tc.set["KCL_STREAM_ARN"] != "" || IsARN(tc.set["KCL_STREAM_NAME"]); ok != byARN || (ok && a.String() != ordersARN) {
				t.Errorf("Stream() ARN %v %q, want by ARN: %v", ok, a, byARN)
			}
		})
	}
}

func TestRoleSettings(t *testing.T) {
	m := minimal()
	m["REPLICATOR_STREAM_ROLE_ARN"] = "arn:aws:iam::123456789012:role/ops/stream-reader"
	m["REPLICATOR_STREAM_ROLE_EXTERNAL_ID"] = "ext-1"
	m["REPLICATOR_LEASE_TABLE_ROLE_ARN"] = "arn:aws:iam::210987654321:role/leases"
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.StreamRoleARN != m["REPLICATOR_STREAM_ROLE_ARN"] || c.StreamRoleExternalID != "ext-1" || c.LeaseTableRoleARN != m["REPLICATOR_LEASE_TABLE_ROLE_ARN"] || c.SessionName() != "shardbridge" {
		t.Errorf("loaded %+v", c)
	}
	for set, want := range map[[2]string]string{
		{"REPLICATOR_STREAM_ROLE_ARN", "arn:aws:iam:us-east-1:123456789012:role/x"}: "REPLICATOR_STREAM_ROLE_ARN: \"arn:aws:iam:us-east-1:123456789012:role/x\": an IAM ARN has no region",
		{"REPLICATOR_LEASE_TABLE_ROLE_ARN", "arn:aws:iam::123456789012:user/x"}:     "REPLICATOR_LEASE_TABLE_ROLE_ARN: \"arn:aws:iam::123456789012:user/x\": resource \"user/x\" is not role/NAME",
		{"REPLICATOR_LEASE_TABLE_ROLE_ARN", "leases"}:                               "REPLICATOR_LEASE_TABLE_ROLE_ARN: \"leases\" is not an ARN",
		{"REPLICATOR_LEASE_TABLE_ROLE_EXTERNAL_ID", "abc"}:                          "REPLICATOR_LEASE_TABLE_ROLE_EXTERNAL_ID: set, but REPLICATOR_LEASE_TABLE_ROLE_ARN is not",
		{"REPLICATOR_ROLE_SESSION_NAME", "a b"}:                                     "REPLICATOR_ROLE_SESSION_NAME: \"a b\" is not 2..64",
		{"REPLICATOR_STREAM_ROLE_EXTERNAL_ID", "x"}:                                 "REPLICATOR_STREAM_ROLE_EXTERNAL_ID: external id of 1 characters",
	} {
		m := minimal()
		m["REPLICATOR_STREAM_ROLE_ARN"] = "arn:aws:iam::123456789012:role/stream"
		m[set[0]] = set[1]
		if _, err := Load(env(m)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s=%s: Load = %v, want an error starting %q", set[0], set[1], err, want)
		}
	}
}
