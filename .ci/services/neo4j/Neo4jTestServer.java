import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.Config;
import org.neo4j.driver.Driver;
import org.neo4j.driver.GraphDatabase;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.internal.Version;

/**
 * Neo4j Community for tests: the embedded database with its Bolt connector on HOST:PORT and
 * authentication on, user neo4j with the given password. Runs until killed (SIGTERM shuts the
 * database down cleanly). It writes its pid to RUN_DIR/neo4j.pid at once and, once Bolt accepts
 * the password, "ready <version>" to RUN_DIR/ready, which .ci/services/neo4j.sh waits for.
 *
 * Usage: java -cp 'lib/*:classes' Neo4jTestServer HOME HOST PORT PASSWORD RUN_DIR
 */
public final class Neo4jTestServer {
    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: Neo4jTestServer HOME HOST PORT PASSWORD RUN_DIR");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        String host = args[1];
        int port = Integer.parseInt(args[2]);
        String password = args[3];
        Path runDir = Path.of(args[4]);
        Path readyFile = runDir.resolve("ready");
        Files.deleteIfExists(readyFile);
        Files.writeString(runDir.resolve("neo4j.pid"), ProcessHandle.current().pid() + "\n");

        long pageCacheMb = Long.getLong("neo4j.pagecache.mb", 64);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMb))
                .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size, ByteUnit.mebiBytes(256))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("[neo4j] shutting down");
            try {
                Files.deleteIfExists(readyFile);
            } catch (Exception ignored) {
                // best effort
            }
            dbms.shutdown();
            stopped.countDown();
        }, "neo4j-shutdown"));

        // The system database creates user neo4j with password "neo4j" (change required) on
        // first start. Embedded transactions run without authentication, so set ours here. On a
        // reused store the password is already ours and Neo4j refuses "the same password".
        try {
            dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
            System.err.println("[neo4j] password of user neo4j set");
        } catch (RuntimeException e) {
            if (!String.valueOf(e.getMessage()).contains("cannot be the same")) throw e;
            System.err.println("[neo4j] password of user neo4j already set");
        }

        // Self-check through Bolt with the password, as a client would; give up after 120 s
        // (a broken Bolt server can leave the driver waiting for ever).
        String uri = "bolt://" + host + ":" + port;
        try {
            CompletableFuture.runAsync(() -> {
                Config config = Config.builder().withoutEncryption()
                        .withConnectionTimeout(10, TimeUnit.SECONDS).build();
                try (Driver driver = GraphDatabase.driver(uri, AuthTokens.basic("neo4j", password), config)) {
                    driver.verifyConnectivity();
                    driver.executableQuery("RETURN 1 AS ok").execute();
                }
            }).get(120, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.err.println("[neo4j] Bolt self-check on " + uri + " failed: " + e);
            e.printStackTrace();
            System.exit(1);
        }
        String version = Version.getNeo4jVersion();
        Path tmp = readyFile.resolveSibling(readyFile.getFileName() + ".tmp");
        Files.writeString(tmp, "ready " + version + "\n");
        Files.move(tmp, readyFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        System.err.println("[neo4j] Neo4j " + version + " ready on " + uri + " (Java "
                + System.getProperty("java.version") + ")");
        stopped.await();
    }
}
