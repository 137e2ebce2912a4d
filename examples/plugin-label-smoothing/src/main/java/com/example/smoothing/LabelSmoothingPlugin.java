package com.example.smoothing;

import dev.manyfold.api.Plugin;
import dev.manyfold.api.objective.ObjectiveFactory;
import java.util.List;

/** Contributes the {@code label-smoothing} objective. Listed in META-INF/services/dev.manyfold.api.Plugin. */
public final class LabelSmoothingPlugin implements Plugin {
    @Override
    public List<ObjectiveFactory> objectives() {
        return List.of(new LabelSmoothingObjective.Factory());
    }
}
