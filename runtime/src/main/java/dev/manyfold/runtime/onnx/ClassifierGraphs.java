package dev.manyfold.runtime.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.manyfold.api.SubModel;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.onnx.OnnxGraph.Attr;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One ONNX graph per MLP or CNN sub-model: {@code input} ({@code [N, features]}, as the data
 * loaders produce it) to {@code logits} ({@code [N, classes]}). The weights are the sub-model's
 * {@link Model#export} (masks and adapters folded in; pruned weights and 2:4 zeros stay as
 * dense zeros, since ORT's CPU kernels have no sparse path).
 */
public final class ClassifierGraphs {
    private ClassifierGraphs() {}

    /** The serialized model of {@code model}'s {@code subModel}. */
    public static byte[] build(Model model, SubModel subModel, String source) {
        model.check(subModel, "--sub-model");
        try (NDManager m = model.parameters().manager().newSubManager()) {
            Model.Exported e = model.export(subModel, m);
            Map<String, Object> c = e.config();
            OnnxGraph g = new OnnxGraph("manyfold_" + model.family());
            int blocks = ((Number) c.get("blocks")).intValue();
            int classes = ((Number) c.get("classes")).intValue();
            String x;
            switch (model.family()) {
                case "mlp" -> {
                    int inputs = ((Number) c.get("inputs")).intValue();
                    x = g.input("input", OnnxGraph.FLOAT, "N", (long) inputs);
                    x = g.op("Relu", linear(g, e, "input", x));
                    for (int i = 0; i < blocks; i++) {
                        x = g.op("Add", x, g.op("Relu", linear(g, e, "blocks." + i + ".fc", x)));
                    }
                }
                case "cnn" -> {
                    int image = ((Number) c.get("image")).intValue();
                    x = g.input("input", OnnxGraph.FLOAT, "N", (long) image * image);
                    x = g.op("Reshape", x, g.longs("image_shape", -1, 1, image, image));
                    x = g.op("Relu", conv(g, e, "stem", x));
                    x = g.op("MaxPool", List.of(Attr.ints("kernel_shape", 2, 2), Attr.ints("strides", 2, 2)), x);
                    for (int i = 0; i < blocks; i++) {
                        x = g.op("Add", x, g.op("Relu", conv(g, e, "blocks." + i + ".conv", x)));
                    }
                    x = g.op("Flatten", List.of(Attr.of("axis", 1L)), g.op("GlobalAveragePool", x));
                }
                default -> throw new IllegalArgumentException(model.family() + " models are exported to ONNX as language-model graphs");
            }
            g.opTo("logits", "Gemm", List.of(Attr.of("transB", 1L)), x, weight(g, e, "head.weight"), weight(g, e, "head.bias"));
            g.output("logits", OnnxGraph.FLOAT, "N", (long) classes);
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put(OnnxExport.META_FORMAT, OnnxExport.FORMAT_CLASSIFIER);
            meta.put(OnnxExport.META_VERSION, OnnxExport.VERSION);
            meta.put(OnnxExport.META_CONFIG, OnnxExport.json(c));
            meta.put(OnnxExport.META_SUB_MODEL, subModel.toString());
            meta.put(OnnxExport.META_SOURCE, source);
            return g.toModel(meta);
        }
    }

    private static String linear(OnnxGraph g, Model.Exported e, String site, String x) {
        return g.op("Gemm", List.of(Attr.of("transB", 1L)), x, weight(g, e, site + ".weight"), weight(g, e, site + ".bias"));
    }

    /** A 3×3 same-padding convolution; the site's weight {@code [out, in·9]} is the kernel {@code [out, in, 3, 3]}. */
    private static String conv(OnnxGraph g, Model.Exported e, String site, String x) {
        NDArray w = e.tensors().get(site + ".weight");
        long out = w.getShape().get(0);
        long in = w.getShape().get(1) / 9;
        String kernel = g.weight(site + ".weight", w.toFloatArray(), out, in, 3, 3);
        return g.op("Conv", List.of(Attr.ints("kernel_shape", 3, 3), Attr.ints("pads", 1, 1, 1, 1)), x, kernel,
                weight(g, e, site + ".bias"));
    }

    private static String weight(OnnxGraph g, Model.Exported e, String name) {
        NDArray a = e.tensors().get(name);
        return g.weight(name, a.toFloatArray(), a.getShape().getShape());
    }
}
