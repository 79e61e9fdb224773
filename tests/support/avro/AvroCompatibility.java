// Reads pairs of Avro schemas from stdin, as two lines each (the reader's, then the writer's), and
// prints one verdict per pair from Avro's own SchemaCompatibility: COMPATIBLE or INCOMPATIBLE.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;

public class AvroCompatibility {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String reader;
        while ((reader = in.readLine()) != null) {
            String writer = in.readLine();
            Schema readerSchema = new Schema.Parser().parse(reader);
            Schema writerSchema = new Schema.Parser().parse(writer);
            SchemaCompatibility.SchemaCompatibilityType verdict = SchemaCompatibility
                .checkReaderWriterCompatibility(readerSchema, writerSchema).getType();
            System.out.println(verdict);
        }
    }
}
