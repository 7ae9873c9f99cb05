package hello;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * Slipway example service on the plain JDK HTTP server: /health for Marathon's health check,
 * /version for "what runs where". Listens on $PORT0 (Marathon host networking), else $PORT,
 * else 8080.
 */
public final class Main {
  static final String VERSION = "1.0.0";

  public static void main(String[] args) throws IOException {
    String version = env("APP_VERSION", VERSION);
    int port = Integer.parseInt(env("PORT0", env("PORT", "8080")));
    long startedAt = System.currentTimeMillis();

    HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
    server.createContext("/health", ex -> send(ex, 200, "application/json", "{\"status\":\"ok\"}"));
    server.createContext("/version", ex -> {
      String commit = System.getenv("SLIPWAY_COMMIT");
      String body = "{\"service\":\"hello-java\",\"version\":" + quote(version)
          + ",\"commit\":" + (commit == null || commit.isEmpty() ? "null" : quote(commit)) + "}";
      send(ex, 200, "application/json", body);
    });
    server.createContext("/", ex -> {
      if (!ex.getRequestURI().getPath().equals("/")) {
        send(ex, 404, "application/json", "{\"error\":\"not found\"}");
        return;
      }
      long up = (System.currentTimeMillis() - startedAt) / 1000;
      send(ex, 200, "text/plain", env("APP_GREETING", "hello") + " from hello-java " + version + ", up " + up + "s\n");
    });
    server.setExecutor(Executors.newFixedThreadPool(4));
    // Marathon stops tasks with SIGTERM: stop accepting, give in-flight requests a second.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(1)));
    server.start();
    System.out.println("hello-java " + version + " listening on " + port);
  }

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? fallback : value;
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }
}
