// A Kafka Streams app with exactly_once_v2
// (java EosCounter.java BOOTSTRAP APP_ID INPUT OUTPUT STATE_DIR [MILLIS_PER_RECORD]):
// counts records per key and writes every new count to OUTPUT. With caching off, a key seen n times
// has exactly the counts 1..n in OUTPUT, as read_committed readers see it, whatever failed meanwhile.
// Prints each state change (RUNNING, ...) on a line; stops when its stdin closes.
import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Produced;

public class EosCounter {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[4]);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        // Records go out as they are made and transactions last half a second: a crash finds
        // an open transaction with records on the broker, which must then be aborted.
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 500);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 0);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
        StreamsBuilder builder = new StreamsBuilder();
        long pause = args.length > 5 ? Long.parseLong(args[5]) : 0;  // keeps the app busy, mid-transaction
        builder.<String, String>stream(args[2]).peek((k, v) -> sleep(pause)).groupByKey().count().toStream()
            .mapValues(count -> Long.toString(count)).to(args[3], Produced.with(Serdes.String(), Serdes.String()));
        KafkaStreams streams = new KafkaStreams(builder.build(), p);
        streams.setStateListener((now, before) -> {
            System.out.println("STATE " + now);
            System.out.flush();
        });
        streams.start();
        while (System.in.read() != -1) { }
        streams.close(Duration.ofSeconds(20));
        System.out.println("STATE CLOSED");
    }

    static void sleep(long millis) {
        try {
            if (millis > 0) Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
