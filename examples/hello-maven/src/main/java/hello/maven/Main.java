package hello.maven;

import com.google.gson.Gson;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import org.apache.commons.lang3.StringUtils;

/**
 * Slipway example service built with Maven: the JDK HTTP server, Gson for JSON and Commons Lang
 * from Maven Central. /health for Marathon's health check, /version for "what runs where".
 * Listens on $PORT0 (Marathon host networking), else $PORT, else 8080.
 */
public final class Main {
  static final String VERSION = "1.0.0";
  private static final Gson GSON = new Gson();

  public static void main(String[] args) throws IOException {
    int port = Integer.parseInt(env("PORT0", env("PORT", "8080")));
    HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
    server.createContext("/health", ex -> send(ex, 200, Map.of("status", "ok")));
    server.createContext("/version", ex -> send(ex, 200, version(env("APP_VERSION", VERSION), System.getenv("SLIPWAY_COMMIT"))));
    server.createContext("/", ex -> send(ex, 404, Map.of("error", "not found")));
    server.setExecutor(Executors.newFixedThreadPool(4));
    // Marathon stops tasks with SIGTERM: stop accepting, give in-flight requests a second.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(1)));
    server.start();
    System.out.println("hello-maven " + VERSION + " listening on " + port);
  }

  /** What /version answers: the commit is null when the image carries none. */
  static Map<String, Object> version(String version, String commit) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("service", "hello-maven");
    body.put("version", version);
    body.put("commit", StringUtils.defaultIfBlank(commit, null));
    return body;
  }

  static String json(Object body) {
    return GSON.toJson(body);
  }

  private static String env(String name, String fallback) {
    return StringUtils.defaultIfEmpty(System.getenv(name), fallback);
  }

  private static void send(HttpExchange ex, int status, Object body) throws IOException {
    byte[] data = json(body).getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, data.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(data);
    }
  }
}
