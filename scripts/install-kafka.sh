#!/usr/bin/env bash
# install-kafka.sh — fetch Apache Kafka (the broker, run in KRaft mode by the
# harness's reference backend and the Kafka conformance suite) with Maven into
# the git-ignored folder .emulators/kafka/: its jars in libs/ and a VERSION
# file. Maven Central is reached through the machine's mvn.
#
# The version is pinned so every machine tests against the same broker; bump
# it here to move. Idempotent and offline-safe once fetched: when libs/ holds
# the pinned version it does nothing and needs no network. Quiet on success
# apart from one line; on failure it prints Maven's log and exits non-zero.
# Needs java >= 17 and mvn on PATH.
set -euo pipefail

KAFKA_VERSION="4.4.0"
SLF4J_VERSION="1.7.36" # the broker logs through SLF4J 1.x; slf4j-simple writes to stderr

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${SHARDBRIDGE_EMULATORS_DIR:-$root/.emulators}/kafka"

die() { echo "install-kafka: $*" >&2; exit 1; }

command -v java >/dev/null 2>&1 || die "java not found on PATH (Java >= 17 is required)"
command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH"
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
[ "${java_major%%.*}" -ge 17 ] 2>/dev/null || die "Java >= 17 required (found ${java_major:-unknown})"

if [ "$(cat "$prefix/VERSION" 2>/dev/null)" = "$KAFKA_VERSION" ] &&
  [ -f "$prefix/libs/kafka_2.13-$KAFKA_VERSION.jar" ]; then
  echo "Apache Kafka up to date in $prefix ($KAFKA_VERSION)"
  exit 0
fi

mkdir -p "$prefix"
log="$(mktemp "${TMPDIR:-/tmp}/install-kafka.XXXXXX")"
trap 'rm -f "$log"' EXIT
cat >"$prefix/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>shardbridge</groupId>
  <artifactId>apache-kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
rm -rf "$prefix/libs.new"
if ! mvn -B -q -f "$prefix/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$prefix/libs.new" -DincludeScope=runtime >"$log" 2>&1; then
  cat "$log" >&2
  die "mvn dependency:copy-dependencies failed (is Maven Central reachable?)"
fi
[ -f "$prefix/libs.new/kafka_2.13-$KAFKA_VERSION.jar" ] || die "kafka_2.13-$KAFKA_VERSION.jar missing after the fetch"
rm -rf "$prefix/libs"
mv "$prefix/libs.new" "$prefix/libs"
echo "$KAFKA_VERSION" >"$prefix/VERSION"
echo "Apache Kafka $KAFKA_VERSION installed in $prefix"
