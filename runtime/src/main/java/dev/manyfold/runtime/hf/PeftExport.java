package dev.manyfold.runtime.hf;

import dev.manyfold.runtime.model.TensorNames;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.manyfold.api.Settings;
import dev.manyfold.runtime.checkpoint.SafeTensors;
import dev.manyfold.runtime.checkpoint.Tensor;
import dev.manyfold.runtime.job.Run;
import dev.manyfold.runtime.job.TrainJob;
import dev.manyfold.runtime.model.Ops;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * {@code export RUN --format peft -o DIR}: a run's low-rank adapter in PEFT's LoRA layout,
 * {@code adapter_config.json} + {@code adapter_model.safetensors}, to load on top of the base
 * model (the directory the run was imported from, or the run's own {@code --format hf}
 * export of its frozen base).
 *
 * <p>A Manyfold low-rank adapter on a site {@code W [out, in]} holds {@code u [in, r]} and
 * {@code v [r, out]} with {@code ΔW = (α/r)·(u·v)ᵀ}; PEFT's is {@code ΔW = (lora_alpha/r)·B·A}
 * with {@code A [r, in]}, {@code B [out, r]}, so {@code A = uᵀ}, {@code B = vᵀ} and
 * {@code lora_alpha = α}. Tensor names are
 * {@code base_model.model.<HF module>.lora_A.weight}. DSEE's sparse part {@code S} has no
 * PEFT counterpart: it is left out and the export says so (use {@code --format hf} for the
 * merged model). Exactly one adapter section with {@code u}/{@code v} tensors is exported.
 */
public final class PeftExport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private PeftExport() {}

    public static int run(Run p, Path dir, PrintWriter out) {
        List<Settings> sections = p.recipe().sections("adapters");
        Map<String, NDArray> params = p.model().parameters().all();
        int chosen = -1;
        for (int i = 0; i < sections.size(); i++) {
            String prefix = TensorNames.adapterPrefix(i);
            if (params.keySet().stream().anyMatch(n -> n.startsWith(prefix) && n.endsWith(".u"))) {
                if (chosen >= 0) {
                    throw new IllegalArgumentException("--format peft: adapters[" + chosen + "] and adapters[" + i
                            + "] are both low-rank adapters; PEFT's layout holds one");
                }
                chosen = i;
            }
        }
        if (chosen < 0) {
            throw new IllegalArgumentException("--format peft: the run has no low-rank adapter (an adapters section of type lora or"
                    + " dsee); nothing to export");
        }
        String prefix = TensorNames.adapterPrefix(chosen);
        Map<String, Tensor> tensors = new TreeMap<>();
        TreeSet<String> modules = new TreeSet<>();
        int rank = -1;
        boolean sparseDropped = false;
        try (NDManager m = p.model().parameters().manager().newSubManager()) {
            for (String site : p.model().sites().keySet()) {
                String u = prefix + site + ".u";
                if (!params.containsKey(u)) {
                    continue;
                }
                NDArray a = Ops.own(m, params.get(u).stopGradient().transpose().duplicate());
                NDArray b = Ops.own(m, params.get(prefix + site + ".v").stopGradient().transpose().duplicate());
                int r = (int) a.getShape().get(0);
                if (rank >= 0 && r != rank) {
                    throw new IllegalArgumentException("--format peft: site " + site + " has rank " + r + " but others " + rank);
                }
                rank = r;
                sparseDropped |= params.containsKey(prefix + site + ".s");
                String hf = HfNames.toHf(site + ".weight");
                String module = hf.substring(0, hf.length() - ".weight".length());
                modules.add(module.substring(module.lastIndexOf('.') + 1));
                String base = "base_model.model." + module;
                tensors.put(base + ".lora_A.weight", Tensor.of(base + ".lora_A.weight", a));
                tensors.put(base + ".lora_B.weight", Tensor.of(base + ".lora_B.weight", b));
            }
        }
        Settings section = sections.get(chosen);
        double alpha = section.asMap().get("alpha") instanceof Number n ? n.doubleValue() : 2.0 * rank;
        Settings model = p.recipe().section("model");
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("peft_type", "LORA");
        config.put("task_type", "CAUSAL_LM");
        config.put("base_model_name_or_path", HfImport.imports(model) ? HfImport.directory(model).toAbsolutePath().toString() : null);
        config.put("r", rank);
        config.put("lora_alpha", alpha);
        config.put("lora_dropout", 0.0);
        config.put("target_modules", List.copyOf(modules));
        config.put("bias", "none");
        config.put("fan_in_fan_out", false);
        config.put("inference_mode", true);
        try {
            Files.createDirectories(dir);
            SafeTensors.write(dir.resolve("adapter_model.safetensors"), tensors, Map.of("format", "pt"));
            JSON.writeValue(dir.resolve("adapter_config.json").toFile(), config);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir, e);
        }
        out.printf("exported adapters[%d] as a PEFT LoRA adapter: r %d, lora_alpha %s, %d sites, modules %s -> %s%n", chosen, rank,
                alpha, tensors.size() / 2, modules, dir);
        if (sparseDropped) {
            out.println("  note: DSEE's sparse part S has no PEFT counterpart and is not in this adapter; --format hf exports the merged"
                    + " model with it");
        }
        if (p.model().sites().values().stream().anyMatch(s -> s.mask() != null)) {
            out.println("  note: the run's masks (pruned weights) are not part of a PEFT adapter; --format hf exports the pruned model");
        }
        return 0;
    }
}
