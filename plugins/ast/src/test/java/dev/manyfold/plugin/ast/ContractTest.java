package dev.manyfold.plugin.ast;

import dev.manyfold.api.adapter.Adapter;
import dev.manyfold.api.mask.MaskStrategy;
import dev.manyfold.testkit.Contracts;
import dev.manyfold.testkit.Factories;
import dev.manyfold.testkit.TestingContext;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The N:M strategy and SLoRB meet the testkit's mask and adapter contracts. */
class ContractTest {
    @Test
    void nmMasksMeetTheMaskContractOnEveryTargetedSite() throws Exception {
        MaskStrategy nm = Factories.create(new NmMaskStrategyFactory(), "masks[0]", Map.of("n", 2, "m", 4),
                TestingContext.of(Fakes.TINY));
        Contracts.mask(nm, Fakes.TINY);
    }

    @Test
    void wandaMasksMeetTheMaskContractWithCalibrationNorms() throws Exception {
        MaskStrategy wanda = Factories.create(new NmMaskStrategyFactory(), "masks[0]", Map.of("criterion", "wanda"),
                TestingContext.of(Fakes.TINY));
        Contracts.mask(wanda, Fakes.TINY);
    }

    @Test
    void slorbMeetsTheAdapterContract() {
        Adapter slorb = Factories.create(new SlorbAdapterFactory(), "adapters[0]", Map.of("k", 4), TestingContext.of(Fakes.TINY));
        Contracts.adapter(slorb, 8, 16, false);
    }
}
