/**
 * Checkpoint formats for {@code manyfold export --format NAME}, contributed by plugins
 * ({@link dev.manyfold.api.export.ExportFormatFactory}), e.g. the AST plugin's packed 2:4
 * layout. Since API 1.1; additive.
 */
package dev.manyfold.api.export;
