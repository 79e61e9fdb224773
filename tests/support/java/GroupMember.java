// One member of a group of each kind Kafka 4 has, for kctl's group commands to look at
// (java GroupMember.java KIND BOOTSTRAP GROUP TOPIC [LIMIT]):
//   classic  - a KafkaConsumer with group.protocol=classic, committing what it reads;
//   consumer - a KafkaConsumer with group.protocol=consumer (KIP-848), committing what it reads;
//   share    - a KafkaShareConsumer (KIP-932), acknowledging what it reads;
//   streams  - a Kafka Streams app with group.protocol=streams (KIP-1071): GROUP is its
//              application id; it copies TOPIC to TOPIC-out.
// A consumer stops reading after LIMIT records (default: no limit) but stays in its group.
// Prints "ASSIGNED n" when its assignment changes, "READ n" as it reads, "STATE s" for Streams;
// leaves its group and exits when its stdin closes.
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;

public class GroupMember {
    static final AtomicBoolean running = new AtomicBoolean(true);

    public static void main(String[] args) throws Exception {
        String kind = args[0], bootstrap = args[1], group = args[2], topic = args[3];
        long limit = args.length > 4 ? Long.parseLong(args[4]) : Long.MAX_VALUE;
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() != -1) { }
            } catch (Exception ignored) { }
            running.set(false);
        });
        stdin.setDaemon(true);
        stdin.start();
        switch (kind) {
            case "classic", "consumer" -> consume(kind, bootstrap, group, topic, limit);
            case "share" -> share(bootstrap, group, topic, limit);
            case "streams" -> streams(bootstrap, group, topic);
            default -> throw new IllegalArgumentException("unknown kind " + kind);
        }
        System.out.println("CLOSED");
    }

    static Properties base(String bootstrap, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        return p;
    }

    static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static void consume(String protocol, String bootstrap, String group, String topic, long limit) {
        Properties p = base(bootstrap, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "1");
        if (protocol.equals("classic")) p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        long read = 0;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(java.util.Collection<TopicPartition> parts) { }

                public void onPartitionsAssigned(java.util.Collection<TopicPartition> parts) {
                    say("ASSIGNED " + consumer.assignment().size());
                }
            });
            while (running.get()) {
                if (read >= limit) {
                    consumer.pause(consumer.assignment());  // stays a member, reads no more
                }
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                if (!records.isEmpty()) {
                    read += records.count();
                    consumer.commitSync();
                    say("READ " + read);
                }
            }
        }
    }

    static void share(String bootstrap, String group, String topic, long limit) {
        Properties p = base(bootstrap, group);
        long read = 0;
        boolean assigned = false;
        try (KafkaShareConsumer<String, String> consumer = new KafkaShareConsumer<>(p)) {
            consumer.subscribe(List.of(topic));
            while (running.get()) {
                if (read >= limit) {
                    sleep(200);
                    continue;
                }
                var records = consumer.poll(Duration.ofMillis(200));
                if (!assigned) {
                    assigned = true;
                    say("ASSIGNED share");
                }
                if (!records.isEmpty()) {
                    read += records.count();
                    consumer.commitSync();  // acknowledges every record delivered
                    say("READ " + read);
                }
            }
        }
    }

    static void streams(String bootstrap, String appId, String topic) throws Exception {
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.GROUP_PROTOCOL_CONFIG, "streams");
        p.put(StreamsConfig.STATE_DIR_CONFIG, System.getProperty("java.io.tmpdir") + "/kctl-streams-" + appId);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        StreamsBuilder builder = new StreamsBuilder();
        builder.<String, String>stream(topic).to(topic + "-out");
        try (KafkaStreams streams = new KafkaStreams(builder.build(), p)) {
            streams.setStateListener((now, before) -> say("STATE " + now));
            streams.start();
            while (running.get()) sleep(100);
            streams.close(Duration.ofSeconds(20));
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
