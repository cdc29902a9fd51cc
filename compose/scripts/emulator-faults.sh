#!/bin/sh
# Turns faults on in Shardbridge's emulator: posts every rule in /faults
# (fault.Rule JSON, one per file) to its control API, then prints the rules.
set -eu
CONTROL="${CONTROL_URL:-http://emulator:4566/_shardbridge}"
until curl -fsS "$CONTROL/health" >/dev/null; do sleep 1; done
curl -fsS -X DELETE "$CONTROL/faults/rules"
for rule in "${FAULTS_DIR:-/faults}"/*.json; do
  curl -fsS -X POST -H 'Content-Type: application/json' --data "@$rule" "$CONTROL/faults/rules"
  echo " <- $rule"
done
curl -fsS "$CONTROL/faults/rules"
