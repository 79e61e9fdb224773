// A member of a classic group or of a consumer group on the consumer protocol (KIP-848), for
// kctl's group commands to look at (java ConsumerMember.java classic|consumer BOOTSTRAP GROUP TOPIC
// [LIMIT]): a KafkaConsumer with that group.protocol that commits what it reads and stops reading
// after LIMIT records (default: no limit) but stays in its group. Prints "ASSIGNED n" when its
// assignment changes and "READ n" as it reads; leaves its group and exits when its stdin closes.
// Runs with every release the test bed holds (3.9 too).
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class ConsumerMember {
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
        consume(kind, bootstrap, group, topic, limit);
        System.out.println("CLOSED");
    }

    static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static Properties base(String bootstrap, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        return p;
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
}
