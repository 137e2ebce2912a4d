package dev.manyfold.plugin.dsee;

import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.testkit.Contracts;
import dev.manyfold.testkit.Factories;
import dev.manyfold.testkit.TestingContext;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** DSEE and LoRA meet the testkit's adapter contract: zero ΔW at initialisation, differentiable, slice-safe. */
class AdapterContractTest {
    @Test
    void loraMeetsTheAdapterContractWithAZeroDeltaAtInitialisation() {
        Adapter lora = Factories.create(DseeAdapterFactory.lora(), "adapters[0]", Map.of("rank", 2), TestingContext.validating());
        Contracts.adapter(lora, 12, 16, true);
    }

    @Test
    void dseeMeetsTheAdapterContractWithAZeroDeltaAtInitialisation() {
        Adapter dsee = Factories.create(DseeAdapterFactory.dsee(), "adapters[0]", Map.of("rank", 2, "sparse", 8),
                TestingContext.validating());
        Contracts.adapter(dsee, 12, 16, true);
    }
}
