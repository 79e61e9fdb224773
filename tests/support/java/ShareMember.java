// A member of a share group (KIP-932), for kctl's group commands to look at
// (java ShareMember.java share BOOTSTRAP GROUP TOPIC [LIMIT]): a KafkaShareConsumer that acknowledges
// what it reads and stops reading after LIMIT records (default: no limit) but stays in its group.
// Prints "READ n" as it reads; leaves its group and exits when its stdin closes.
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

public class ShareMember {
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
        share(bootstrap, group, topic, limit);
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
}
