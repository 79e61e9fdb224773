// Kafka 4.4 moved AppInfoParser into org.apache.kafka.common.utils.internals. The file connectors
// of the newest connect-file served (4.1.1) still ask the old name for their version, so on a 4.4
// worker they cannot be validated or started. The test workers put this bridge beside them on
// their plugin path: the plugin's class loader finds it after the worker's own has no such class.
package org.apache.kafka.common.utils;

public final class AppInfoParser {
    private AppInfoParser() { }

    public static String getVersion() {
        return org.apache.kafka.common.utils.internals.AppInfoParser.getVersion();
    }

    public static String getCommitId() {
        return org.apache.kafka.common.utils.internals.AppInfoParser.getCommitId();
    }
}
