// MosipJmsClient: a stand-in for MOSIP's registration processor on the ActiveMQ wire (OpenWire
// JMS), driven line by line over stdin/stdout by the Rust MOSIP adapter tests. It connects with
// ActiveMQConnectionFactory like MOSIP does, sends requests to queue `mosip-to-abis` (JMS
// TextMessage or BytesMessage, persistent, timeToLive 2,700,000 ms as MOSIP configures) and
// receives replies from queue `abis-to-mosip`. See README.md in this folder.
//
// Compile (Debian 12 packages activemq / libactivemq-java, libgeronimo-jms-1.1-spec-java,
// libhawtbuf-java, libslf4j-java, default-jdk-headless):
//   CP=/usr/share/java/activemq-client.jar:/usr/share/java/geronimo-jms_1.1_spec.jar:/usr/share/java/geronimo-j2ee-management-1.1-spec.jar:/usr/share/java/hawtbuf.jar:/usr/share/java/slf4j-api.jar
//   javac -cp "$CP" -d OUTDIR MosipJmsClient.java
// Run (slf4j-simple sends the ActiveMQ client's own log lines to stderr, at WARN and above):
//   java -Xmx64m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
//     -cp "OUTDIR:$CP:/usr/share/java/slf4j-simple.jar" MosipJmsClient 'failover:(tcp://127.0.0.1:PORT)?timeout=5000'
//
// Protocol: one command per stdin line, exactly one result line per command on stdout (flushed):
//   send text <json>     -> sent <JMSMessageID>     (the rest of the line, as a TextMessage)
//   send bytes <json>    -> sent <JMSMessageID>     (its UTF-8 bytes, as a BytesMessage)
//   recv <timeout_ms>    -> text <body> | bytes <body as UTF-8> | other <JMS class> | none
//   drain <timeout_ms>   -> drained <N>             (receives until nothing came for timeout_ms)
//   quit                 -> (no line) closes the connection and exits 0; so does end of input.
//   anything that fails  -> error <message>         (and the client carries on)
// On start it prints `ready` once connected, or `error <message>` and exits 1 when it cannot
// connect: a failover: URL retries forever by default and its `timeout` option bounds only
// message sends (FailoverTransport applies it to messages, not to the connection handshake), so
// a 15 s watchdog bounds the connect; add `startupMaxReconnectAttempts=N` to the URL to fail
// sooner (e.g. `failover:(tcp://127.0.0.1:PORT)?timeout=5000&startupMaxReconnectAttempts=5`
// gives up after about 0.3 s). Once connected, `send` while the broker is gone fails with
// `error ...` after the URL's `timeout`, and `recv` just answers `none`; the failover transport
// reconnects by itself when a broker comes back on the same port. Bodies are printed on one line:
// any CR or LF in a received body is replaced by a space (the adapter's JSON replies are
// single-line anyway, so this only matters for malformed input).

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import javax.jms.BytesMessage;
import javax.jms.Connection;
import javax.jms.DeliveryMode;
import javax.jms.Message;
import javax.jms.MessageConsumer;
import javax.jms.MessageProducer;
import javax.jms.Queue;
import javax.jms.Session;
import javax.jms.TextMessage;

import org.apache.activemq.ActiveMQConnectionFactory;

public final class MosipJmsClient {
    static final String REQUEST_QUEUE = "mosip-to-abis";
    static final String REPLY_QUEUE = "abis-to-mosip";
    /** MOSIP's registration processor sends ABIS requests with a 2,700 s time to live. */
    static final long TIME_TO_LIVE_MS = 2_700_000L;
    static final long CONNECT_DEADLINE_MS = 15_000L;

    private static final PrintStream OUT =
            new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);

    private Connection connection;
    private Session session;
    private MessageProducer producer;
    private MessageConsumer consumer;

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: MosipJmsClient BROKER_URL   e.g. 'failover:(tcp://127.0.0.1:61616)?timeout=5000'");
            System.exit(2);
        }
        MosipJmsClient client = new MosipJmsClient();
        ExecutorService connector = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "connect");
            t.setDaemon(true);
            return t;
        });
        try {
            Future<?> f = connector.submit(() -> {
                client.connect(args[0]);
                return null;
            });
            f.get(CONNECT_DEADLINE_MS, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            say("error cannot connect to " + args[0] + " within " + CONNECT_DEADLINE_MS + " ms");
            System.exit(1); // halts the failover transport's reconnect threads too
        } catch (java.util.concurrent.ExecutionException e) {
            say("error cannot connect to " + args[0] + ": " + describe(e.getCause()));
            System.exit(1);
        }
        connector.shutdown();
        say("ready");

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("quit")) {
                break;
            }
            try {
                say(client.handle(line));
            } catch (Throwable t) {
                say("error " + describe(t));
            }
        }
        client.close();
        System.exit(0);
    }

    void connect(String url) throws Exception {
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(url);
        connection = factory.createConnection();
        connection.start();
        // MOSIP uses a non-transacted AUTO_ACKNOWLEDGE session and default (persistent) delivery.
        session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue requests = session.createQueue(REQUEST_QUEUE);
        Queue replies = session.createQueue(REPLY_QUEUE);
        producer = session.createProducer(requests);
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        producer.setTimeToLive(TIME_TO_LIVE_MS);
        consumer = session.createConsumer(replies);
    }

    String handle(String line) throws Exception {
        if (line.startsWith("send text ")) {
            TextMessage m = session.createTextMessage(line.substring("send text ".length()));
            producer.send(m);
            return "sent " + m.getJMSMessageID();
        }
        if (line.startsWith("send bytes ")) {
            BytesMessage m = session.createBytesMessage();
            m.writeBytes(line.substring("send bytes ".length()).getBytes(StandardCharsets.UTF_8));
            producer.send(m);
            return "sent " + m.getJMSMessageID();
        }
        if (line.startsWith("recv ")) {
            Message m = receive(parseTimeout(line.substring("recv ".length())));
            return m == null ? "none" : show(m);
        }
        if (line.startsWith("drain ")) {
            long timeout = parseTimeout(line.substring("drain ".length()));
            int n = 0;
            while (receive(timeout) != null) {
                n++;
            }
            return "drained " + n;
        }
        return "error unknown command: " + oneLine(line);
    }

    private Message receive(long timeoutMs) throws Exception {
        // receive(0) would block forever; the protocol's 0 means "only what is already here".
        return timeoutMs <= 0 ? consumer.receiveNoWait() : consumer.receive(timeoutMs);
    }

    private static long parseTimeout(String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad timeout: " + oneLine(s));
        }
    }

    private static String show(Message m) throws Exception {
        if (m instanceof TextMessage) {
            String body = ((TextMessage) m).getText();
            return "text " + oneLine(body == null ? "" : body);
        }
        if (m instanceof BytesMessage) {
            BytesMessage b = (BytesMessage) m;
            byte[] data = new byte[(int) b.getBodyLength()];
            b.readBytes(data);
            return "bytes " + oneLine(new String(data, StandardCharsets.UTF_8));
        }
        return "other " + m.getClass().getName();
    }

    /** Keeps a result on one stdout line: CR and LF become spaces. */
    private static String oneLine(String s) {
        return s.replace('\r', ' ').replace('\n', ' ');
    }

    private static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder(t.getClass().getSimpleName());
        if (t.getMessage() != null) {
            sb.append(": ").append(t.getMessage());
        }
        Throwable c = t.getCause();
        if (c != null && c != t && c.getMessage() != null && !c.getMessage().equals(t.getMessage())) {
            sb.append(" (").append(c.getClass().getSimpleName()).append(": ").append(c.getMessage()).append(")");
        }
        return oneLine(sb.toString());
    }

    private static void say(String s) {
        OUT.println(s);
        OUT.flush();
    }

    /** Closes the connection, giving up after 5 s (the caller exits right after anyway). */
    void close() throws InterruptedException {
        if (connection == null) {
            return;
        }
        Thread closer = new Thread(() -> {
            try {
                connection.close();
            } catch (Exception e) {
                // Exiting anyway; the broker drops the connection when the socket closes.
            }
        }, "close");
        closer.setDaemon(true);
        closer.start();
        closer.join(5_000L);
    }
}
