/*
 * kcl-rs: the MultiLangDaemon for a DynamoDB stream (kcl-bootstrap --dynamodb-streams).
 *
 * The stock MultiLangDaemon only builds a Kinesis scheduler. This entry point reads the same
 * properties file, builds the same multilang record-processor factory (so the children speak the
 * exact same protocol), and builds the scheduler with the DynamoDB Streams Kinesis Adapter
 * (StreamsSchedulerFactory + AmazonDynamoDBStreamsAdapterClient) instead.
 *
 * Why this package: the daemon's settings are resolved into KCL config objects only by
 * MultiLangDaemonConfiguration.resolvedConfiguration, which is package-private (its public API
 * returns a finished Kinesis Scheduler). Living in the same package lets this class reuse that
 * resolution unchanged, so every daemon setting means what it means for Kinesis.
 *
 * Compiled by kcl-bootstrap at first use (javac) against the locked jars; no class file is
 * committed. Source of truth for the calls made here: the multilang module's MultiLangDaemon and
 * the adapter's StreamsSchedulerFactory (versions in kcl-bootstrap/locks/ddb-streams/).
 */
package software.amazon.kinesis.multilang.config;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import com.amazonaws.services.dynamodbv2.streamsadapter.AmazonDynamoDBStreamsAdapterClient;
import com.amazonaws.services.dynamodbv2.streamsadapter.StreamsSchedulerFactory;
import com.amazonaws.services.dynamodbv2.streamsadapter.model.DynamoDBStreamsProcessRecordsInput;
import com.amazonaws.services.dynamodbv2.streamsadapter.polling.DynamoDBStreamsPollingConfig;
import com.amazonaws.services.dynamodbv2.streamsadapter.processor.DynamoDBStreamsShardRecordProcessor;
import com.amazonaws.services.dynamodbv2.streamsadapter.util.KinesisMapperUtil;
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.URI;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.AwsServiceClientConfiguration;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClientBuilder;
import software.amazon.kinesis.common.InitialPositionInStreamExtended;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.LeaseLostInput;
import software.amazon.kinesis.lifecycle.events.ProcessRecordsInput;
import software.amazon.kinesis.lifecycle.events.ShardEndedInput;
import software.amazon.kinesis.lifecycle.events.ShutdownRequestedInput;
import software.amazon.kinesis.multilang.MultiLangDaemonConfig;
import software.amazon.kinesis.processor.ShardRecordProcessor;
import software.amazon.kinesis.processor.ShardRecordProcessorFactory;
import software.amazon.kinesis.retrieval.RetrievalConfig;

public final class KclRsDynamoDbStreamsDaemon {
    /** The stream to read (required). */
    static final String STREAM_ARN_KEY = "dynamoDBStreamArn";
    /** Optional endpoint of the DynamoDB Streams API (a local emulator); else the region's. */
    static final String STREAMS_ENDPOINT_KEY = "dynamoDBStreamsEndpoint";
    /** DynamoDB Streams GetRecords accepts at most 1000 records per call (API reference). */
    static final int MAX_RECORDS_PER_CALL = 1000;

    private static final Logger log = LoggerFactory.getLogger(KclRsDynamoDbStreamsDaemon.class);

    private KclRsDynamoDbStreamsDaemon() {}

    public static void main(String[] args) {
        int exitCode = 1;
        try {
            String propertiesFile = null;
            String logConfiguration = null;
            for (int i = 0; i < args.length; i++) {
                if (("--properties-file".equals(args[i]) || "-p".equals(args[i])) && i + 1 < args.length) {
                    propertiesFile = args[++i];
                } else if (("--log-configuration".equals(args[i]) || "-l".equals(args[i])) && i + 1 < args.length) {
                    logConfiguration = args[++i];
                } else {
                    throw new IllegalArgumentException("unexpected argument: " + args[i]);
                }
            }
            if (propertiesFile == null) {
                throw new IllegalArgumentException("--properties-file FILE is required");
            }
            if (logConfiguration != null) {
                configureLogging(logConfiguration);
            }
            exitCode = run(propertiesFile);
        } catch (Throwable t) {
            log.error("The DynamoDB Streams daemon could not start", t);
            System.err.println("error: " + t);
        }
        System.exit(exitCode);
    }

    private static void configureLogging(String file) throws Exception {
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        context.reset();
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        try (InputStream in = new FileInputStream(file)) {
            configurator.doConfigure(in);
        }
    }

    private static int run(String propertiesFile) throws Exception {
        StreamsConfigurator configurator = new StreamsConfigurator();
        MultiLangDaemonConfig config =
                new MultiLangDaemonConfig(propertiesFile, KclRsDynamoDbStreamsDaemon.class.getClassLoader(), configurator);
        MultiLangDaemonConfiguration settings = config.getMultiLangDaemonConfiguration();
        ShardRecordProcessorFactory bridge = new BridgeFactory(config.getRecordProcessorFactory());
        MultiLangDaemonConfiguration.ResolvedConfiguration resolved = settings.resolvedConfiguration(bridge);

        // The streams client gets the region and credentials the daemon resolved for Kinesis.
        AwsServiceClientConfiguration kinesis =
                resolved.getRetrievalConfig().kinesisClient().serviceClientConfiguration();
        DynamoDbStreamsClientBuilder streamsBuilder = DynamoDbStreamsClient.builder()
                .region(kinesis.region())
                .credentialsProvider(kinesis.credentialsProvider());
        if (configurator.streamsEndpoint != null) {
            streamsBuilder.endpointOverride(URI.create(configurator.streamsEndpoint));
        }
        AmazonDynamoDBStreamsAdapterClient adapterClient =
                new AmazonDynamoDBStreamsAdapterClient(streamsBuilder.build(), kinesis.region());

        // The daemon's initialPositionInStream (LATEST unless set); the adapter accepts LATEST and
        // TRIM_HORIZON only (kcl-bootstrap's validation refuses AT_TIMESTAMP first).
        InitialPositionInStreamExtended position = settings.getInitialPositionInStreamExtended();
        if (position == null) {
            position = InitialPositionInStreamExtended.newInitialPosition(
                    settings.getInitialPositionInStream() == null
                            ? software.amazon.kinesis.common.InitialPositionInStream.LATEST
                            : settings.getInitialPositionInStream());
        }
        RetrievalConfig retrieval = new RetrievalConfig(
                adapterClient,
                StreamsSchedulerFactory.createSingleStreamTracker(configurator.streamArn, position),
                settings.getApplicationName());
        retrieval.maxListShardsRetryAttempts(resolved.getRetrievalConfig().maxListShardsRetryAttempts());
        retrieval.listShardsBackoffTimeInMillis(resolved.getRetrievalConfig().listShardsBackoffTimeInMillis());
        DynamoDBStreamsPollingConfig polling = new DynamoDBStreamsPollingConfig(adapterClient);
        // 0 = not set in the properties (the daemon's beans default to 0): then the API's maximum
        // and the adapter's own idle time (1 s) apply.
        int maxRecords = settings.getMaxRecords();
        polling.maxRecords(maxRecords > 0 ? Math.min(maxRecords, MAX_RECORDS_PER_CALL) : MAX_RECORDS_PER_CALL);
        if (settings.getIdleTimeBetweenReadsInMillis() > 0) {
            polling.idleTimeBetweenReadsInMillis(settings.getIdleTimeBetweenReadsInMillis());
        }
        retrieval.retrievalSpecificConfig(polling);

        Scheduler scheduler = StreamsSchedulerFactory.createScheduler(
                resolved.getCheckpointConfig(),
                resolved.getCoordinatorConfig(),
                resolved.getLeaseManagementConfig(),
                resolved.getLifecycleConfig(),
                resolved.getMetricsConfig(),
                resolved.getProcessorConfig(),
                retrieval,
                adapterClient);
        log.info("Reading DynamoDB stream {} for application {}", configurator.streamArn, settings.getApplicationName());

        // As MultiLangDaemon: a graceful shutdown on SIGTERM, bounded by shutdownGraceMillis.
        long grace = settings.getShutdownGraceMillis();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("Process terminated, will initiate shutdown.");
            try {
                Future<Boolean> done = scheduler.startGracefulShutdown();
                done.get(grace, TimeUnit.MILLISECONDS);
                log.info("Process shutdown is complete.");
            } catch (Exception e) {
                log.error("Encountered an error during shutdown.", e);
            }
        }));
        ExecutorService executor = config.getExecutorService();
        Future<Integer> running = executor.submit(() -> {
            try {
                scheduler.run();
                return 0;
            } catch (Throwable t) {
                log.error("Caught throwable while processing data", t);
                return 1;
            }
        });
        return running.get();
    }

    /**
     * The daemon's configurator, told the Kinesis-form stream name the adapter derives from the
     * ARN (lease keys and the StreamIdentifier use it); our own keys are taken out first.
     */
    static final class StreamsConfigurator extends KinesisClientLibConfigurator {
        String streamArn;
        String streamsEndpoint;

        @Override
        public MultiLangDaemonConfiguration getConfiguration(Properties properties) {
            Object arn = properties.remove(STREAM_ARN_KEY);
            Object endpoint = properties.remove(STREAMS_ENDPOINT_KEY);
            if (arn == null || arn.toString().trim().isEmpty()) {
                throw new IllegalArgumentException(STREAM_ARN_KEY + " is required (the table's LatestStreamArn)");
            }
            streamArn = arn.toString().trim();
            if (!KinesisMapperUtil.isValidDynamoDBStreamArn(streamArn)) {
                throw new IllegalArgumentException(STREAM_ARN_KEY + " is not a DynamoDB stream ARN: " + streamArn);
            }
            if (endpoint != null && !endpoint.toString().trim().isEmpty()) {
                streamsEndpoint = endpoint.toString().trim();
            }
            properties.remove("streamArn");
            properties.setProperty(
                    "streamName", KinesisMapperUtil.createKinesisStreamIdentifierFromDynamoDBStreamsArn(streamArn, false));
            return super.getConfiguration(properties);
        }
    }

    /** Hands every shard to the multilang processor factory's processors, wrapped. */
    static final class BridgeFactory implements ShardRecordProcessorFactory {
        private final ShardRecordProcessorFactory multilang;

        BridgeFactory(ShardRecordProcessorFactory multilang) {
            this.multilang = multilang;
        }

        @Override
        public ShardRecordProcessor shardRecordProcessor() {
            return new Bridge(multilang.shardRecordProcessor());
        }
    }

    /**
     * The adapter's processor type around the multilang processor. The Kinesis-shaped input goes
     * through unchanged: its records are the adapter's DynamoDBStreamsClientRecord (data = the
     * stream record as RecordObjectMapper JSON, partition key = sequence number), so the child
     * gets the same processRecords message as for Kinesis.
     */
    static final class Bridge implements DynamoDBStreamsShardRecordProcessor {
        private final ShardRecordProcessor multilang;

        Bridge(ShardRecordProcessor multilang) {
            this.multilang = multilang;
        }

        @Override
        public void initialize(InitializationInput input) {
            multilang.initialize(input);
        }

        @Override
        public void processRecords(ProcessRecordsInput input) {
            multilang.processRecords(input);
        }

        @Override
        public void processRecords(DynamoDBStreamsProcessRecordsInput input) {
            // Never reached: processRecords(ProcessRecordsInput) above is what KCL calls.
            throw new UnsupportedOperationException("the Kinesis-shaped processRecords is used");
        }

        @Override
        public void leaseLost(LeaseLostInput input) {
            multilang.leaseLost(input);
        }

        @Override
        public void shardEnded(ShardEndedInput input) {
            multilang.shardEnded(input);
        }

        @Override
        public void shutdownRequested(ShutdownRequestedInput input) {
            multilang.shutdownRequested(input);
        }
    }
}
