#!/usr/bin/env bash
# install-emulators.sh — install the reference AWS emulators used by the
# conformance suite (fakes/conformance) into the git-ignored folder .emulators/.
#
#   kinesis-local  kinesis-mock, LocalStack's Kinesis engine (runs on Node)
#   dynalite       DynamoDB emulator on LevelDB/memory (runs on Node)
#
# Versions are pinned so every machine tests against the same references; bump
# them here (and re-run the conformance suite) to move. Idempotent: when both
# packages are already installed at the pinned versions it does nothing.
# Quiet on success apart from one line; on failure it prints npm's log and exits
# non-zero. Needs node >= 20 and npm on PATH.
set -euo pipefail

KINESIS_LOCAL_VERSION="0.6.2"
DYNALITE_VERSION="4.0.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${SHARDBRIDGE_EMULATORS_DIR:-$root/.emulators}"

die() { echo "install-emulators: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found on PATH (Node.js >= 20 is required)"
command -v npm >/dev/null 2>&1 || die "npm not found on PATH"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js >= 20 required (found $(node --version))"

# installed_version PKG prints the version of PKG under $prefix, or nothing.
installed_version() {
  local pj="$prefix/node_modules/$1/package.json"
  [ -f "$pj" ] || return 0
  node -p "require(process.argv[1]).version" "$pj" 2>/dev/null || true
}

if [ "$(installed_version kinesis-local)" = "$KINESIS_LOCAL_VERSION" ] &&
  [ "$(installed_version dynalite)" = "$DYNALITE_VERSION" ] &&
  [ -x "$prefix/node_modules/.bin/kinesis-local" ] &&
  [ -x "$prefix/node_modules/.bin/dynalite" ]; then
  echo "emulators up to date in $prefix (kinesis-local $KINESIS_LOCAL_VERSION, dynalite $DYNALITE_VERSION)"
  exit 0
fi

mkdir -p "$prefix"
log="$(mktemp "${TMPDIR:-/tmp}/install-emulators.XXXXXX")"
trap 'rm -f "$log"' EXIT

# --save-exact pins the versions in .emulators/package.json too; the loglevel
# hides npm's chatter (and warnings about unrelated user config) on success.
if ! npm install --prefix "$prefix" --no-audit --no-fund --save-exact \
  --loglevel=error \
  "kinesis-local@$KINESIS_LOCAL_VERSION" "dynalite@$DYNALITE_VERSION" >"$log" 2>&1; then
  cat "$log" >&2
  die "npm install failed (is the npm registry reachable?)"
fi

for pkg in "kinesis-local:$KINESIS_LOCAL_VERSION" "dynalite:$DYNALITE_VERSION"; do
  name="${pkg%%:*}" want="${pkg#*:}"
  got="$(installed_version "$name")"
  [ "$got" = "$want" ] || die "$name: expected version $want after install, found '${got:-none}'"
  [ -x "$prefix/node_modules/.bin/$name" ] || die "$name: no executable at $prefix/node_modules/.bin/$name"
done
[ -f "$prefix/node_modules/kinesis-local/server.json" ] ||
  die "kinesis-local: server.json missing (kinesis-mock needs it as KINESIS_MOCK_CERT_PATH)"

echo "emulators installed in $prefix (kinesis-local $KINESIS_LOCAL_VERSION, dynalite $DYNALITE_VERSION)"
