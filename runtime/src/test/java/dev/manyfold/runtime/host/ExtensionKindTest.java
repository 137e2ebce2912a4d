package dev.manyfold.runtime.host;

import static org.assertj.core.api.Assertions.assertThat;

import dev.manyfold.api.Plugin;
import dev.manyfold.api.export.ExportFormat;
import dev.manyfold.api.export.ExportFormatFactory;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The one table of extension points: export formats are read from plugins, bound and named like the others; the default decoder is the one declaring it. */
class ExtensionKindTest {
    private static ExportFormatFactory format(String name) {
        return new ExportFormatFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public ExportFormat create(dev.manyfold.api.Settings settings, dev.manyfold.api.Context context) {
                return (tensors, masks) -> tensors;
            }
        };
    }

    @Test
    void exportFormatNamesMayContainAColonOtherKindsMayNot() {
        assertThat(ExtensionKind.EXPORT_FORMAT.validName("packed-2:4")).isTrue();
        assertThat(ExtensionKind.EXPORT_FORMAT.validName("Packed")).isFalse();
        assertThat(ExtensionKind.DECODER.validName("beam:2")).isFalse();
        assertThat(ExtensionKind.EXPORT_FORMAT.plural()).isEqualTo("export formats");
    }

    @Test
    void aPluginsExportFormatsAreLoadedAndResolvedByName() {
        Plugin plugin = new Plugin() {
            @Override
            public List<ExportFormatFactory> exportFormats() {
                return List.of(format("toy:1"));
            }
        };
        try (Manyfold host = Manyfold.builder().classpathPlugins(false).addPlugin(plugin).build()) {
            assertThat(host.extensions().exportFormats()).containsOnlyKeys("toy:1");
            assertThat(host.extensions().of(ExtensionKind.EXPORT_FORMAT)).containsOnlyKeys("toy:1");
            ExportFormat f = host.extensions().exportFormat("toy:1").orElseThrow();
            assertThat(f.pack(Map.of(), Map.of())).isEmpty();
            assertThat(f.needsUnpack()).isFalse();
            assertThat(host.extensions().exportFormat("packed-2:4")).isEmpty();
        }
    }

    private static dev.manyfold.api.decoder.DecoderFactory decoder(String name, boolean isDefault) {
        return new dev.manyfold.api.decoder.DecoderFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public boolean isDefault() {
                return isDefault;
            }

            @Override
            public dev.manyfold.api.decoder.Decoder create(dev.manyfold.api.Settings settings, dev.manyfold.api.Context context) {
                throw new UnsupportedOperationException("not created in this test");
            }
        };
    }

    private static Extensions withDecoders(dev.manyfold.api.decoder.DecoderFactory... factories) {
        Map<String, dev.manyfold.api.decoder.DecoderFactory> decoders = new java.util.LinkedHashMap<>();
        for (var f : factories) {
            decoders.put(f.name(), f);
        }
        return new Extensions(Map.of(), Map.of(), Map.of(), decoders, Map.of());
    }

    @Test
    void theDefaultDecoderIsTheOneFactoryDeclaringItselfDefaultWhateverItsName() {
        assertThat(withDecoders(decoder("beam", false), decoder("plain-argmax", true)).defaultDecoder("--decoder")).isEqualTo("plain-argmax");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> withDecoders(decoder("beam", false)).defaultDecoder("manyfold.decoder"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no loaded plugin declares a default decoder")
                .hasMessageContaining("give manyfold.decoder one of [beam]");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> withDecoders(decoder("a", true), decoder("b", true)).defaultDecoder("--decoder"))
                .hasMessageContaining("several plugins declare a default decoder [a, b]");
    }
}
