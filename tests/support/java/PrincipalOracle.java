import java.io.FileInputStream;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import org.apache.kafka.common.security.ssl.SslPrincipalMapper;

/**
 * What Apache Kafka makes of a client certificate: its subject as X500Principal.getName() gives
 * it (RFC 2253), then that subject through SslPrincipalMapper with the given rules.
 * Arguments: RULES CERT.pem...; prints one line per certificate: the subject, a tab, the name
 * (or "NO MATCH").
 */
public class PrincipalOracle {
    public static void main(String[] args) throws Exception {
        SslPrincipalMapper mapper = SslPrincipalMapper.fromRules(args[0]);
        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        for (int i = 1; i < args.length; i++) {
            try (FileInputStream in = new FileInputStream(args[i])) {
                X509Certificate cert = (X509Certificate) factory.generateCertificate(in);
                String subject = cert.getSubjectX500Principal().getName();
                String name;
                try {
                    name = mapper.getName(subject);
                } catch (Exception e) {
                    name = "NO MATCH";
                }
                System.out.println(subject + "\t" + name);
            }
        }
    }
}
