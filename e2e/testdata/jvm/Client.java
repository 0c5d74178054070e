// Client is the JVM side of the client recipes' test: it requests one URL
// again and again, a new connection each time (keep-alive off), resolving the
// host through the JVM's own address cache as every Java program does, and
// counts what came back. The test reads the last line.
//
// Usage: java Client.java URL SECONDS WANT_APP PAUSE_MS
// Output (one line): ok=N wrong=N failed=N
// where wrong counts answers whose X-App-Id is not WANT_APP.
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;

public class Client {
    public static void main(String[] args) throws Exception {
        System.setProperty("http.keepAlive", "false");
        URL url = new URL(args[0]);
        long start = System.nanoTime();
        long end = System.nanoTime() + Long.parseLong(args[1]) * 1_000_000_000L;
        String want = args[2];
        long pauseMs = Long.parseLong(args[3]);
        long ok = 0, wrong = 0, failed = 0;
        String firstFailure = "";
        while (System.nanoTime() < end) {
            try {
                HttpURLConnection c = (HttpURLConnection) url.openConnection();
                c.setConnectTimeout(1000);
                c.setReadTimeout(2000);
                int code = c.getResponseCode();
                String app = c.getHeaderField("X-App-Id");
                try (InputStream in = code < 400 ? c.getInputStream() : c.getErrorStream()) {
                    if (in != null) {
                        in.readAllBytes();
                    }
                }
                c.disconnect();
                if (code != 200) {
                    failed++;
                    if (firstFailure.isEmpty()) firstFailure = "status " + code + " after " + (System.nanoTime() - start) / 1_000_000 + " ms";
                } else if (!want.equals(app)) {
                    wrong++;
                } else {
                    ok++;
                }
            } catch (Exception e) {
                failed++;
                if (firstFailure.isEmpty()) firstFailure = e + " after " + (System.nanoTime() - start) / 1_000_000 + " ms";
            }
            // A client's own pace, as an application issuing requests has.
            Thread.sleep(pauseMs);
        }
        System.out.println("first_failure=" + firstFailure.replace('\n', ' '));
        System.out.println("ok=" + ok + " wrong=" + wrong + " failed=" + failed);
    }
}
