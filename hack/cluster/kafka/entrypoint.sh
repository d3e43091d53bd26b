#!/bin/sh
# The Kafka image's entrypoint: one KRaft node that is broker and controller (node id 1), for use
# inside a cluster. Formats the storage on first start, then runs the broker in the foreground.
# Runs as any non-root user with a read-only root filesystem: everything it writes (config,
# data, the JVM's temp files) goes to $KAFKA_DATA_DIR, a volume. Needs only sh, cat, mkdir and java.
#   KAFKA_ADVERTISED_LISTENERS  e.g. PLAINTEXT://kafka-0.kafka.ns.svc:9092 (default: PLAINTEXT://
#                               $KAFKA_ADVERTISED_HOST:$KAFKA_PORT, the host defaulting to the pod IP)
#   KAFKA_PORT (9092)  KAFKA_CONTROLLER_PORT (9093)  KAFKA_NODE_ID (1)  KAFKA_NUM_PARTITIONS (1)
#   KAFKA_CLUSTER_ID (random on first start)  KAFKA_DATA_DIR (/var/lib/kafka)
#   KAFKA_HEAP_OPTS (-Xms128m -Xmx512m)  KAFKA_JVM_OPTS  KAFKA_EXTRA_PROPERTIES (lines appended)
set -euf   # -f: the classpath "libs/*" is for java, not for the shell
DATA="${KAFKA_DATA_DIR:-/var/lib/kafka}"
PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-9093}"
NODE_ID="${KAFKA_NODE_ID:-1}"
if [ -z "${KAFKA_ADVERTISED_LISTENERS:-}" ]; then
  host="${KAFKA_ADVERTISED_HOST:-}"
  if [ -z "$host" ]; then   # the kubelet writes "<pod IP> <pod name>" into /etc/hosts
    read -r hn </proc/sys/kernel/hostname
    while read -r ip names; do
      case " $names " in *" $hn "*) host=$ip; break ;; esac
    done </etc/hosts
  fi
  [ -n "$host" ] || { echo "entrypoint: set KAFKA_ADVERTISED_HOST or KAFKA_ADVERTISED_LISTENERS" >&2; exit 1; }
  KAFKA_ADVERTISED_LISTENERS="PLAINTEXT://$host:$PORT"
fi
mkdir -p "$DATA/data" "$DATA/tmp"
CONFIG="$DATA/server.properties"
cat_config() {
  cat <<PROPS
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$NODE_ID@127.0.0.1:$CPORT
listeners=PLAINTEXT://:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=$KAFKA_ADVERTISED_LISTENERS
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA/data
num.partitions=${KAFKA_NUM_PARTITIONS:-1}
PROPS
  cat /opt/kafka/config/single-node.properties
  if [ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]; then printf '%s\n' "$KAFKA_EXTRA_PROPERTIES"; fi
}
cat_config >"$CONFIG"

JAVA="java -XX:-UsePerfData -Djava.io.tmpdir=$DATA/tmp -cp /opt/kafka/libs/*"
if [ ! -f "$DATA/data/meta.properties" ]; then
  tool="$JAVA -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.yaml kafka.tools.StorageTool"
  id="${KAFKA_CLUSTER_ID:-$($tool random-uuid)}"
  echo "entrypoint: formatting KRaft storage in $DATA/data (cluster id $id)"
  $tool format -t "$id" -c "$CONFIG"
fi
echo "entrypoint: starting Kafka $KAFKA_VERSION, node $NODE_ID, advertised $KAFKA_ADVERTISED_LISTENERS"
# shellcheck disable=SC2086  # word splitting of the option strings is intended
exec $JAVA ${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m} -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError ${KAFKA_JVM_OPTS:-} \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml kafka.Kafka "$CONFIG"
