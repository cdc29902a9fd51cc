#!/bin/sh
# Creates the data and dead-letter topics the replicator writes to (names
# from replicator.env). Safe to run twice.
set -eu
: "${KAFKA_TOPIC:?}" "${KAFKA_BOOTSTRAP_SERVERS:?}"
PARTITIONS="${TOPIC_PARTITIONS:-4}"

for topic in "$KAFKA_TOPIC" ${REPLICATOR_DLQ_TOPIC:-}; do
  if rpk topic describe "$topic" -X brokers="$KAFKA_BOOTSTRAP_SERVERS" >/dev/null 2>&1; then
    echo "init-kafka: topic $topic exists"
  else
    rpk topic create "$topic" -p "$PARTITIONS" -r 1 -X brokers="$KAFKA_BOOTSTRAP_SERVERS"
  fi
done
