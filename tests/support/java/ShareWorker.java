// A share consumer that decides each record by its value, for tests of share groups
// (java ShareWorker.java BOOTSTRAP GROUP TOPIC): explicit acknowledgement; a value starting with
// "release" is released on its first delivery and accepted on a later one, "reject" is rejected,
// anything else accepted. Prints "GOT topic partition offset deliveries ACTION" per record (after
// its acknowledgement is committed); leaves its group and exits when its stdin closes.
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

public class ShareWorker {
    static final AtomicBoolean running = new AtomicBoolean(true);

    public static void main(String[] args) {
        String bootstrap = args[0], group = args[1], topic = args[2];
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() != -1) { }
            } catch (Exception ignored) { }
            running.set(false);
        });
        stdin.setDaemon(true);
        stdin.start();
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put("share.acknowledgement.mode", "explicit");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "20");
        try (KafkaShareConsumer<String, String> consumer = new KafkaShareConsumer<>(p)) {
            consumer.subscribe(List.of(topic));
            while (running.get()) {
                List<String> lines = new ArrayList<>();
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    int deliveries = r.deliveryCount().map(Short::intValue).orElse(1);
                    String value = r.value() == null ? "" : r.value();
                    AcknowledgeType type = AcknowledgeType.ACCEPT;
                    if (value.startsWith("reject")) type = AcknowledgeType.REJECT;
                    else if (value.startsWith("release") && deliveries == 1) type = AcknowledgeType.RELEASE;
                    consumer.acknowledge(r, type);
                    lines.add("GOT " + r.topic() + " " + r.partition() + " " + r.offset() + " " + deliveries + " " + type.name());
                }
                if (!lines.isEmpty()) {
                    consumer.commitSync();
                    synchronized (System.out) {
                        for (String line : lines) System.out.println(line);
                        System.out.flush();
                    }
                }
            }
        }
        System.out.println("CLOSED");
    }
}
