package hello.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class MainTest {
  @Test
  void versionNamesTheCommitOrNull() {
    assertEquals(
        "{\"service\":\"hello-maven\",\"version\":\"1.0.0\",\"commit\":\"abc\"}",
        Main.json(Main.version("1.0.0", "abc")));
    assertEquals("{\"service\":\"hello-maven\",\"version\":\"1.0.0\"}", Main.json(Main.version("1.0.0", " ")));
  }
}
