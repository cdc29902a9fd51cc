#!/bin/sh
# Creates the Kinesis stream and the DynamoDB lease table the replicator uses
# (names from replicator.env), against whichever AWS endpoint answers as
# "aws": LocalStack or Shardbridge's emulator. Safe to run twice.
set -eu
: "${AWS_ENDPOINT_URL:?}" "${KCL_STREAM_NAME:?}" "${KCL_APPLICATION_NAME:?}"
SHARDS="${STREAM_SHARDS:-4}"

tries=0
until aws kinesis list-streams >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 120 ]; then
    echo "init-aws: $AWS_ENDPOINT_URL did not answer within 120 attempts (is a profile on? --profile localstack or --profile emulator)" >&2
    exit 1
  fi
  sleep 1
done

if aws kinesis describe-stream-summary --stream-name "$KCL_STREAM_NAME" >/dev/null 2>&1; then
  echo "init-aws: stream $KCL_STREAM_NAME exists"
else
  aws kinesis create-stream --stream-name "$KCL_STREAM_NAME" --shard-count "$SHARDS"
  echo "init-aws: created stream $KCL_STREAM_NAME with $SHARDS shards"
fi
aws kinesis wait stream-exists --stream-name "$KCL_STREAM_NAME"

# The lease table has the KCL layout: hash key leaseKey (the shard id), a
# string. The replicator would create it too; creating it here lets you
# inspect it before the first lease is taken.
if aws dynamodb describe-table --table-name "$KCL_APPLICATION_NAME" >/dev/null 2>&1; then
  echo "init-aws: lease table $KCL_APPLICATION_NAME exists"
else
  aws dynamodb create-table --table-name "$KCL_APPLICATION_NAME" \
    --attribute-definitions AttributeName=leaseKey,AttributeType=S \
    --key-schema AttributeName=leaseKey,KeyType=HASH \
    --billing-mode PAY_PER_REQUEST >/dev/null
  echo "init-aws: created lease table $KCL_APPLICATION_NAME"
fi
aws dynamodb wait table-exists --table-name "$KCL_APPLICATION_NAME"
