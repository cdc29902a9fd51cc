package backend

import (
	"context"
	"os"
	"path/filepath"
	"slices"
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
