package dev.manyfold.runtime.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds one ONNX model (opset {@value #OPSET}, IR version {@value #IR_VERSION}) in memory:
 * typed inputs and outputs with symbolic or fixed dimensions, float and int64 initializers,
 * nodes with int, ints and float attributes, and {@code metadata_props}. Written with
 * {@link Proto}, so no ONNX or protobuf library is needed.
 */
final class OnnxGraph {
    static final int OPSET = 17;
    static final int IR_VERSION = 8;
    static final int FLOAT = 1;
    static final int INT32 = 6;
    static final int INT64 = 7;
    /** ONNX Runtime's contrib-op domain (e.g. {@code GroupQueryAttention}), imported at version 1. */
    static final String MS = "com.microsoft";

    private final String name;
    private final List<Proto> nodes = new ArrayList<>();
    private final Map<String, Proto> initializers = new LinkedHashMap<>();
    private final List<Proto> inputs = new ArrayList<>();
    private final List<Proto> outputs = new ArrayList<>();
    private int counter;
    private boolean usesMs;

    OnnxGraph(String name) {
        this.name = name;
    }

    /** A graph input; {@code dims} are {@link Integer}/{@link Long} sizes or {@link String} symbolic names. */
    String input(String n, int type, Object... dims) {
        inputs.add(valueInfo(n, type, dims));
        return n;
    }

    void output(String n, int type, Object... dims) {
        outputs.add(valueInfo(n, type, dims));
    }

    /** A float initializer (stored once per name). */
    String weight(String n, float[] data, long... dims) {
        if (!initializers.containsKey(n)) {
            ByteBuffer b = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(data);
            initializers.put(n, tensor(n, FLOAT, dims).bytes(9, b.array()));
        }
        return n;
    }

    /** An int64 initializer, e.g. a shape for Reshape. */
    String longs(String n, long... data) {
        if (!initializers.containsKey(n)) {
            ByteBuffer b = ByteBuffer.allocate(data.length * 8).order(ByteOrder.LITTLE_ENDIAN);
            b.asLongBuffer().put(data);
            initializers.put(n, tensor(n, INT64, data.length).bytes(9, b.array()));
        }
        return n;
    }

    /** An int32 initializer of shape {@code dims} ({@code [1]} or, with no dims, a scalar). */
    String ints(String n, int value, long... dims) {
        if (!initializers.containsKey(n)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(value);
            initializers.put(n, tensor(n, INT32, dims).bytes(9, b.array()));
        }
        return n;
    }

    /** A scalar float initializer. */
    String scalar(String n, float value) {
        if (!initializers.containsKey(n)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            b.putFloat(value);
            initializers.put(n, tensor(n, FLOAT).bytes(9, b.array()));
        }
        return n;
    }

    /** A node with one fresh output. */
    String op(String type, List<Attr> attrs, String... in) {
        return ops(type, 1, attrs, in)[0];
    }

    String op(String type, String... in) {
        return op(type, List.of(), in);
    }

    /** A node writing the named output {@code out}. */
    String opTo(String out, String type, List<Attr> attrs, String... in) {
        node(type, new String[] {out}, attrs, in);
        return out;
    }

    /** A node with {@code count} fresh outputs. */
    String[] ops(String type, int count, List<Attr> attrs, String... in) {
        String[] out = new String[count];
        for (int i = 0; i < count; i++) {
            out[i] = "t" + counter++;
        }
        node(type, out, attrs, in);
        return out;
    }

    /** A node of ONNX Runtime's {@value #MS} domain writing {@code out} (null entries: fresh names). */
    String[] msOps(String type, String[] out, List<Attr> attrs, String... in) {
        for (int i = 0; i < out.length; i++) {
            if (out[i] == null) {
                out[i] = "t" + counter++;
            }
        }
        node(type, out, attrs, in);
        nodes.get(nodes.size() - 1).string(7, MS);
        usesMs = true;
        return out;
    }

    private void node(String type, String[] out, List<Attr> attrs, String... in) {
        Proto n = new Proto();
        for (String i : in) {
            n.string(1, i);
        }
        for (String o : out) {
            n.string(2, o);
        }
        n.string(3, type + "_" + nodes.size()).string(4, type);
        for (Attr a : attrs) {
            n.message(5, a.proto());
        }
        nodes.add(n);
    }

    int nodeCount() {
        return nodes.size();
    }

    /** The serialized {@code ModelProto}. */
    byte[] toModel(Map<String, String> metadata) {
        Proto g = new Proto();
        nodes.forEach(n -> g.message(1, n));
        g.string(2, name);
        initializers.values().forEach(t -> g.message(5, t));
        inputs.forEach(i -> g.message(11, i));
        outputs.forEach(o -> g.message(12, o));
        Proto m = new Proto().varint(1, IR_VERSION).string(2, "manyfold").string(3, OnnxExport.VERSION).string(4, "dev.manyfold")
                .message(7, g).message(8, new Proto().string(1, "").varint(2, OPSET));
        if (usesMs) {
            m.message(8, new Proto().string(1, MS).varint(2, 1));
        }
        metadata.forEach((k, v) -> m.message(14, new Proto().string(1, k).string(2, v)));
        return m.toBytes();
    }

    private static Proto tensor(String n, int type, long... dims) {
        Proto t = new Proto();
        if (dims.length > 0) {
            t.packed(1, dims);
        }
        return t.varint(2, type).string(8, n);
    }

    private static Proto valueInfo(String n, int type, Object... dims) {
        Proto shape = new Proto();
        for (Object d : dims) {
            shape.message(1, d instanceof String s ? new Proto().string(2, s) : new Proto().varint(1, ((Number) d).longValue()));
        }
        Proto tensorType = new Proto().varint(1, type).message(2, shape);
        return new Proto().string(1, n).message(2, new Proto().message(1, tensorType));
    }

    /** A node attribute. */
    record Attr(String name, Object value) {
        static Attr of(String name, long value) {
            return new Attr(name, value);
        }

        static Attr ints(String name, long... values) {
            return new Attr(name, values);
        }

        static Attr of(String name, float value) {
            return new Attr(name, value);
        }

        Proto proto() {
            Proto p = new Proto().string(1, name);
            if (value instanceof Long l) {
                p.varint(3, l).varint(20, 2);
            } else if (value instanceof Float f) {
                p.float32(2, f).varint(20, 1);
            } else {
                p.packed(8, (long[]) value).varint(20, 7);
            }
            return p;
        }
    }
}
