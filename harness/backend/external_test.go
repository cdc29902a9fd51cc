package backend

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// The external backend takes credentials and region from the AWS SDK's
// default chain — here a profile in a temporary AWS_CONFIG_FILE, as an
// operator's machine would have — and deletes the stream the run created
// when it closes. The "AWS" is an embedded environment's endpoints.
func TestExternalUsesTheSDKChainAndCleansUp(t *testing.T) {
	ctx := context.Background()
	aws, err := Start(ctx, WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = aws.Close(ctx) })

	dir := t.TempDir()
	cfgFile, credFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfgFile, []byte("[profile chaos]\nregion = eu-west-3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(credFile, []byte("[chaos]\naws_access_key_id = AKIDCHAOSPROFILE\naws_secret_access_key = chaos-secret\naws_session_token = chaos-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": cfgFile, "AWS_SHARED_CREDENTIALS_FILE": credFile, "AWS_PROFILE": "chaos",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_EC2_METADATA_DISABLED": "true", EnvRegion: "",
		EnvKinesisEndpoint: aws.KinesisEndpoint(), EnvDynamoDBEndpoint: aws.DynamoDBEndpoint(), EnvKafkaBrokers: "",
	} {
		t.Setenv(k, v)
	}
	ext, err := Start(ctx, WithKind(External), WithSeed(2))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ext.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "AKIDCHAOSPROFILE" || c.SecretAccessKey != "chaos-secret" || c.SessionToken != "chaos-token" {
		t.Errorf("credentials %+v: want the profile's", c)
	}
	if ext.Region() != "eu-west-3" {
		t.Errorf("region %q: want the profile's eu-west-3", ext.Region())
	}
	if !ext.HasFaultLayer() {
		t.Error("an external backend with endpoints keeps the fault layer in front")
	}
	if err := ext.CreateStream(ctx, "sb-external-cleanup", 1); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(streams(t, aws), "sb-external-cleanup") {
		t.Fatal("the stream was not created through the external backend")
	}
	if err := ext.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(streams(t, aws), "sb-external-cleanup") {
		t.Error("the external backend left its stream behind")
	}
}

func streams(t *testing.T, e *Env) []string {
	t.Helper()
	out, err := e.Kinesis().ListStreams(context.Background(), &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatal(err)
	}
	return out.StreamNames
}

func TestKafkaAuthSettingsNameTheProblem(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{EnvKafkaSecurityProtocol: "TLS"}, EnvKafkaSecurityProtocol},
		{map[string]string{EnvKafkaSecurityProtocol: "SASL_SSL"}, EnvKafkaSASLUsername},
		{map[string]string{EnvKafkaSecurityProtocol: "SASL_SSL", EnvKafkaSASLUsername: "u", EnvKafkaSASLMechanism: "GSSAPI"}, EnvKafkaSASLMechanism},
		{map[string]string{EnvKafkaSASLUsername: "u"}, EnvKafkaSecurityProtocol},
		{map[string]string{EnvKafkaTLSCAFile: "/ca.pem"}, EnvKafkaTLSCAFile},
	} {
		_, err := kafkaAuthFrom(func(k string) string { return c.env[k] })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want one naming %s", c.env, err, c.want)
		}
	}
	a, err := kafkaAuthFrom(func(k string) string {
		return map[string]string{EnvKafkaSecurityProtocol: "sasl_plaintext", EnvKafkaSASLUsername: "u"}[k]
	})
	if err != nil || a.SecurityProtocol != "SASL_PLAINTEXT" || a.SASLMechanism != "PLAIN" {
		t.Errorf("auth %+v, %v: want SASL_PLAINTEXT with PLAIN by default", a, err)
	}
}
