#!/usr/bin/env bash
# Resolves Apache Kafka (broker + CLI tools) from Maven Central into the cache; prints the lib dir.
source "$(dirname "$0")/../lib/common.sh"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REPO_ROOT/hack/kafka/pom.xml")
LIB="$CACHE_DIR/kafka/$KAFKA_VERSION/lib"
if [[ ! -f "$LIB/.complete" ]]; then
  command -v java >/dev/null || die "java not found: install a Java 17 JDK"
  command -v mvn >/dev/null || die "mvn not found: install Maven"
  log "resolving Apache Kafka $KAFKA_VERSION from Maven Central into $LIB"
  rm -rf "$LIB"; mkdir -p "$LIB"
  mvn -q -B -f "$REPO_ROOT/hack/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB" >&2 || die "maven could not resolve Kafka $KAFKA_VERSION"
  touch "$LIB/.complete"
fi
echo "$LIB"
