package dev.manyfold.plugin.dsee;

import dev.manyfold.api.Plugin;

/** DSEE: sparse + low-rank adapters on a frozen W0, and LoRA as its N = 0 baseline. */
public final class DseePlugin implements Plugin {}
