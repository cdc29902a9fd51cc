#!/bin/sh
# A sample producer: every second one PutRecords call of BATCH JSON records
# over 50 partition keys, each record carrying its key and a per-run
# sequence number, so you can follow it into the Kafka topic.
set -eu
: "${AWS_ENDPOINT_URL:?}" "${KCL_STREAM_NAME:?}"
BATCH="${BATCH:-20}"
KEYS="${KEYS:-50}"
batch=/tmp/batch.json
seq=0
while :; do
  printf '[' >"$batch"
  i=0
  while [ "$i" -lt "$BATCH" ]; do
    key="user-$((seq % KEYS))"
    [ "$i" -gt 0 ] && printf ',' >>"$batch"
    printf '{"PartitionKey":"%s","Data":"{\\"key\\":\\"%s\\",\\"seq\\":%d}"}' "$key" "$key" "$seq" >>"$batch"
    seq=$((seq + 1))
    i=$((i + 1))
  done
  printf ']' >>"$batch"
  if ! aws kinesis put-records --stream-name "$KCL_STREAM_NAME" --cli-binary-format raw-in-base64-out \
    --records "file://$batch" --query 'FailedRecordCount' --output text; then
    echo "producer: put-records failed, retrying" >&2
  fi
  sleep 1
done
