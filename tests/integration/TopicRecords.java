/*
 * tests/integration/TopicRecords.java - does to a topic what a broker's
 * history can do to it under a running pipeline, for tests that check how
 * riffle resumes afterwards. The Kafka jars riffle fetches hold no
 * command-line tool for either (kafka-topics.sh and
 * kafka-delete-records.sh live in kafka-tools), so tests run this file
 * with `java -cp "$(scripts/kafka classpath)" TopicRecords.java`.
 *
 *   delete TOPIC                     deletes the topic and waits until
 *                                    the brokers no longer list it
 *   truncate TOPIC PARTITION OFFSET  deletes the partition's records
 *                                    below OFFSET, as retention would;
 *                                    prints the new log start offset
 *
 * Usage: TopicRecords BOOTSTRAP delete TOPIC
 *        TopicRecords BOOTSTRAP truncate TOPIC PARTITION OFFSET
 */
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DeletedRecords;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.common.TopicPartition;

public class TopicRecords {
    private static final int GONE_TRIES = 150; /* 0.2 s apart: 30 s */

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        /* a broker that is away fails the call, not hangs it a minute */
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        try (Admin admin = Admin.create(props)) {
            if (args.length == 3 && args[1].equals("delete")) {
                admin.deleteTopics(List.of(args[2])).all().get();
                for (int i = 0; i < GONE_TRIES; i++) {
                    if (!admin.listTopics().names().get().contains(args[2]))
                        return;
                    Thread.sleep(200);
                }
                throw new IllegalStateException(args[2] + " is still listed");
            }
            if (args.length == 5 && args[1].equals("truncate")) {
                TopicPartition tp = new TopicPartition(
                    args[2], Integer.parseInt(args[3]));
                DeletedRecords done = admin.deleteRecords(Map.of(
                    tp, RecordsToDelete.beforeOffset(Long.parseLong(args[4]))))
                    .lowWatermarks().get(tp).get();
                System.out.println(done.lowWatermark());
                return;
            }
            System.err.println("usage: TopicRecords BOOTSTRAP delete TOPIC | "
                               + "truncate TOPIC PARTITION OFFSET");
            System.exit(2);
        }
    }
}
