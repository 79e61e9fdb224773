// A Kafka Streams app with a repartition topic and a changelog, for resets
// (java WordCounter.java PROTOCOL BOOTSTRAP APP_ID INPUT OUTPUT STATE_DIR): PROTOCOL is classic or
// streams (KIP-1071). It re-keys each record by its value (a repartition), counts per word (a store
// with its changelog) and writes every new count to OUTPUT. Prints "STATE s" on each state change;
// closes when its stdin closes.
import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Produced;

public class WordCounter {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[2]);
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[5]);
        p.put(StreamsConfig.GROUP_PROTOCOL_CONFIG, args[0]);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        if (args[0].equals("classic")) {
            p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
        }
        StreamsBuilder builder = new StreamsBuilder();
        builder.<String, String>stream(args[3]).selectKey((k, v) -> v).groupByKey().count().toStream()
            .mapValues(count -> Long.toString(count)).to(args[4], Produced.with(Serdes.String(), Serdes.String()));
        KafkaStreams streams = new KafkaStreams(builder.build(), p);
        streams.setStateListener((now, before) -> {
            System.out.println("STATE " + now);
            System.out.flush();
        });
        streams.start();
        while (System.in.read() != -1) { }
        streams.close(Duration.ofSeconds(20));
        System.out.println("STATE CLOSED");
        System.out.flush();
    }
}
