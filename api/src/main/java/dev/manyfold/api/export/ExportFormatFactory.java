package dev.manyfold.api.export;

import dev.manyfold.api.Factory;

/**
 * Creates an {@link ExportFormat}; its {@link #name()} is what {@code manyfold export --format}
 * accepts (e.g. {@code packed-2:4}). Listed by {@link dev.manyfold.api.Plugin#exportFormats()}.
 * Besides kebab-case, a format name may contain {@code ':'}. The host creates formats with
 * empty settings.
 *
 * @since 1.1
 */
public interface ExportFormatFactory extends Factory<ExportFormat> {}
