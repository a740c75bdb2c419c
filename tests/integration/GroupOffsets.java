/*
 * tests/integration/GroupOffsets.java - prints a consumer group's committed
 * offsets, one "topic partition offset" a line, sorted; nothing when the
 * group has none. The Kafka jars riffle fetches hold no command-line tool
 * for this (kafka-consumer-groups.sh lives in kafka-tools), so tests run
 * this file with `java -cp "$(scripts/kafka classpath)" GroupOffsets.java`.
 *
 * With TOPIC PARTITION OFFSET, first commits that offset for GROUP, which
 * must have no member: a probe whose offset the broker expires
 * offsets.retention.minutes after this commit.
 *
 * Usage: GroupOffsets BOOTSTRAP GROUP [TOPIC PARTITION OFFSET]
 */
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

public class GroupOffsets {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        /* a broker that is away fails the look, not hangs it a minute */
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        try (Admin admin = Admin.create(props)) {
            if (args.length == 5)
                admin.alterConsumerGroupOffsets(args[1], Map.of(
                    new TopicPartition(args[2], Integer.parseInt(args[3])),
                    new OffsetAndMetadata(Long.parseLong(args[4])))).all().get();
            Map<TopicPartition, OffsetAndMetadata> offsets = admin
                .listConsumerGroupOffsets(args[1])
                .partitionsToOffsetAndMetadata().get();
            TreeMap<String, Long> sorted = new TreeMap<>();
            for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet())
                if (e.getValue() != null)
                    sorted.put(e.getKey().topic() + " " + e.getKey().partition(),
                               e.getValue().offset());
            for (Map.Entry<String, Long> e : sorted.entrySet())
                System.out.println(e.getKey() + " " + e.getValue());
        }
    }
}
