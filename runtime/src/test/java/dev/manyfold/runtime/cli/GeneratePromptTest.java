package dev.manyfold.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class GeneratePromptTest {
    @Test
    void aPromptThatWasNotValidUtf8IsRefusedBeforeAnythingLoads() {
        // The JVM decodes command-line bytes that are not UTF-8 as U+FFFD; generate refuses such a prompt instead of decoding garbage.
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(new String[] {"generate", "/nonexistent-run", "--prompt", "caf\uFFFD"}, new PrintWriter(out, true),
                new PrintWriter(err, true));

        assertThat(code).isEqualTo(Main.BAD_INPUT);
        assertThat(err.toString()).contains("--prompt is not valid UTF-8").doesNotContain("Exception");
        assertThat(out.toString()).isEmpty();
    }
}
