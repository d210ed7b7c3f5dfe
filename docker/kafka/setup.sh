#!/bin/sh
# One-shot of docker/compose.yaml, in the Kafka image: the hub's SCRAM user and exactly
# the ACLs docs/operations.md ("Kafka ACLs") lists, for topic prefix `hub.`. Connects as
# the super user CN=kafka-admin on the brokers' mutual-TLS listener. Safe to run again.
set -eu
BOOTSTRAP=kafka-1:9092,kafka-2:9092,kafka-3:9092
CONFIG=/etc/kafka/tls/admin.properties
BIN=/opt/kafka/bin
PRINCIPAL=User:skolehub

"$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" \
  --alter --entity-type users --entity-name skolehub \
  --add-config "SCRAM-SHA-512=[password=${KAFKA_HUB_PASSWORD}]"

for operation in Describe Read Write Create; do
  "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" --add \
    --allow-principal "$PRINCIPAL" --operation "$operation" \
    --topic 'hub.' --resource-pattern-type prefixed
done
"$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" --add \
  --allow-principal "$PRINCIPAL" --operation IdempotentWrite --cluster
echo "SCRAM user skolehub and its ACLs are in place"
