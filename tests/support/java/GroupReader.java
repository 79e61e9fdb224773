// A consumer that tells every record it reads, for tests that check nothing is lost across
// rebalances (java GroupReader.java PROTOCOL BOOTSTRAP GROUP SUBSCRIPTION [INSTANCE_ID]).
// PROTOCOL is classic or consumer; SUBSCRIPTION is topic:NAME[,NAME...] or regex:PATTERN (a
// server-side SubscriptionPattern with the consumer protocol, a client-side Pattern with classic).
// Prints "GOT topic partition offset" per record, then commits them synchronously and prints
// "COMMITTED"; "ASSIGNED t-p ..." and "REVOKED t-p ..." as the assignment changes. It leaves its
// group and exits when its stdin closes.
// A commit that loses a race with a rebalance (CommitFailedException: its epoch went stale while
// partitions moved) is told as "COMMIT-FAILED" and the reader goes on, as applications do: the
// records are read again by their next owner (at least once).
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class GroupReader {
    static final AtomicBoolean running = new AtomicBoolean(true);

    static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static String names(Collection<TopicPartition> parts) {
        TreeSet<String> sorted = new TreeSet<>();
        for (TopicPartition tp : parts) sorted.add(tp.topic() + "-" + tp.partition());
        return String.join(" ", sorted);
    }

    public static void main(String[] args) {
        String protocol = args[0], bootstrap = args[1], group = args[2], subscription = args[3];
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
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50");
        p.put(ConsumerConfig.METADATA_MAX_AGE_CONFIG, "1000");  // regex: see new topics soon
        if (protocol.equals("classic")) {
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
        }
        if (args.length > 4) p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, args[4]);
        ConsumerRebalanceListener listener = new ConsumerRebalanceListener() {
            public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                if (!parts.isEmpty()) say("REVOKED " + names(parts));
            }

            public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                say("ASSIGNED " + names(parts));
            }
        };
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            if (subscription.startsWith("regex:")) {
                String regex = subscription.substring("regex:".length());
                if (protocol.equals("consumer")) consumer.subscribe(new SubscriptionPattern(regex), listener);
                else consumer.subscribe(Pattern.compile(regex), listener);
            } else {
                consumer.subscribe(Arrays.asList(subscription.substring("topic:".length()).split(",")), listener);
            }
            while (running.get()) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                if (records.isEmpty()) continue;
                StringBuilder lines = new StringBuilder();
                for (ConsumerRecord<String, String> r : records) {
                    lines.append("GOT ").append(r.topic()).append(' ').append(r.partition()).append(' ')
                        .append(r.offset()).append('\n');
                }
                System.out.print(lines);
                try {
                    consumer.commitSync();
                    say("COMMITTED");
                } catch (CommitFailedException e) {
                    say("COMMIT-FAILED " + e.getMessage());
                }
            }
        }
        say("CLOSED");
    }
}
