// Kafka's Java client in transactions, run against a broker from the tests (java TxnClients.java ...).
// Each mode prints one line of key=value results for the test to check.
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.serialization.*;

public class TxnClients {
    public static void main(String[] args) throws Exception {
        String mode = args[0], bootstrap = args[1], topic = args[2], txid = args[3];
        switch (mode) {
            case "commit-abort" -> commitAbort(bootstrap, topic, txid, Integer.parseInt(args[4]));
            case "fence" -> fence(bootstrap, topic, txid);
            case "consume-transform-produce" -> copy(bootstrap, topic, args[4], txid, args[5], Integer.parseInt(args[6]));
            default -> throw new IllegalArgumentException(mode);
        }
    }

    static Properties producerProps(String bootstrap, String txid) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txid);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        return p;
    }

    static KafkaConsumer<String, String> consumer(String bootstrap, String isolation, String group) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        if (group != null) c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        return new KafkaConsumer<>(c);
    }

    /** Values read from partition 0 of `topic` from the start, until `idle` passes with nothing new. */
    static List<String> readAll(String bootstrap, String topic, String isolation, Duration idle) {
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer(bootstrap, isolation, null)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long quietSince = System.currentTimeMillis();
            while (System.currentTimeMillis() - quietSince < idle.toMillis()) {
                ConsumerRecords<String, String> got = c.poll(Duration.ofMillis(200));
                if (!got.isEmpty()) quietSince = System.currentTimeMillis();
                for (ConsumerRecord<String, String> r : got) values.add(r.value());
            }
            System.out.print("end_offset=" + c.endOffsets(List.of(tp)).get(tp) + " ");
        }
        return values;
    }

    static void commitAbort(String bootstrap, String topic, String txid, int n) {
        try (KafkaProducer<String, String> p = new KafkaProducer<>(producerProps(bootstrap, txid))) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < n; i++) p.send(new ProducerRecord<>(topic, 0, "k", "committed-" + i));
            p.commitTransaction();
            p.beginTransaction();
            for (int i = 0; i < n; i++) p.send(new ProducerRecord<>(topic, 0, "k", "aborted-" + i));
            p.flush();  // on the broker before the abort, so read_uncommitted readers see them
            p.abortTransaction();
            p.beginTransaction();
            for (int i = 0; i < n; i++) p.send(new ProducerRecord<>(topic, 0, "k", "after-" + i));
            p.commitTransaction();
        }
        List<String> committed = readAll(bootstrap, topic, "read_committed", Duration.ofSeconds(2));
        System.out.print("read_committed=" + summary(committed) + " ");
        List<String> uncommitted = readAll(bootstrap, topic, "read_uncommitted", Duration.ofSeconds(2));
        System.out.println("read_uncommitted=" + summary(uncommitted));
    }

    /** How many values of each kind, in order of first appearance: committed:5,aborted:5,after:5 */
    static String summary(List<String> values) {
        LinkedHashMap<String, Integer> counts = new LinkedHashMap<>();
        for (String v : values) counts.merge(v.substring(0, v.indexOf('-')), 1, Integer::sum);
        StringJoiner j = new StringJoiner(",");
        counts.forEach((k, v) -> j.add(k + ":" + v));
        return j.toString();
    }

    static void fence(String bootstrap, String topic, String txid) {
        KafkaProducer<String, String> zombie = new KafkaProducer<>(producerProps(bootstrap, txid));
        zombie.initTransactions();
        zombie.beginTransaction();
        zombie.send(new ProducerRecord<>(topic, 0, "k", "zombie-0"));
        zombie.flush();
        String outcome;
        try (KafkaProducer<String, String> successor = new KafkaProducer<>(producerProps(bootstrap, txid))) {
            successor.initTransactions();  // fences the zombie and aborts its open transaction
            try {
                zombie.send(new ProducerRecord<>(topic, 0, "k", "zombie-1")).get();
                zombie.commitTransaction();
                outcome = "zombie_committed";
            } catch (Exception e) {
                Throwable cause = e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
                outcome = cause.getClass().getSimpleName();
            }
            successor.beginTransaction();
            successor.send(new ProducerRecord<>(topic, 0, "k", "successor-0"));
            successor.commitTransaction();
        }
        zombie.close(Duration.ZERO);
        System.out.print("zombie=" + outcome + " ");
        List<String> committed = readAll(bootstrap, topic, "read_committed", Duration.ofSeconds(2));
        System.out.println("read_committed=" + summary(committed));
    }

    /** Copy every record of `input` to `output` in transactions of `batch` records, committing the
     *  consumer's offsets in each (sendOffsetsToTransaction), as exactly-once apps do. */
    static void copy(String bootstrap, String input, String output, String txid, String group, int total) {
        try (KafkaProducer<String, String> p = new KafkaProducer<>(producerProps(bootstrap, txid));
             KafkaConsumer<String, String> c = consumer(bootstrap, "read_committed", group)) {
            p.initTransactions();
            c.subscribe(List.of(input));
            int copied = 0;
            long deadline = System.currentTimeMillis() + 60_000;
            while (copied < total && System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> got = c.poll(Duration.ofMillis(200));
                if (got.isEmpty()) continue;
                p.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                for (ConsumerRecord<String, String> r : got) {
                    p.send(new ProducerRecord<>(output, r.key(), r.value()));
                    next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    copied++;
                }
                p.sendOffsetsToTransaction(next, c.groupMetadata());
                p.commitTransaction();
            }
            System.out.println("copied=" + copied);
        }
    }
}
