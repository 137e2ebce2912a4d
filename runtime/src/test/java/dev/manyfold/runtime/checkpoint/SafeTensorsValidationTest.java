package dev.manyfold.runtime.checkpoint;

import static dev.manyfold.runtime.checkpoint.TestFiles.f32;
import static dev.manyfold.runtime.checkpoint.TestFiles.raw;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Damaged and hostile files fail with a {@link CheckpointException} that says what and where. */
class SafeTensorsValidationTest {
    private static final String ONE_F32 = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    @TempDir
    Path dir;

    @Test
    void fileShorterThanTheLengthFieldIsRejected() throws Exception {
        Path file = Files.write(dir.resolve("short.safetensors"), new byte[] {1, 0, 0});

        assertRejected(file).hasMessage(file + ": file is 3 bytes; a safetensors file starts with an 8-byte header length");
    }

    @Test
    void emptyFileIsRejected() throws Exception {
        Path file = Files.write(dir.resolve("empty.safetensors"), new byte[0]);

        assertRejected(file).hasMessageContaining("file is 0 bytes");
    }

    @Test
    void hostileHeaderLengthOfTwoToTheSixtyIsRejectedWithoutAllocating() throws Exception {
        Path file = raw(dir.resolve("huge.safetensors"), 1L << 60, ONE_F32, new byte[8]);

        assertRejected(file).hasMessageContaining("header length 1152921504606846976 is larger than the")
                .hasMessageContaining(file.toString());
    }

    @Test
    void headerLengthWithTheTopBitSetIsReportedAsUnsigned() throws Exception {
        Path file = raw(dir.resolve("negative.safetensors"), -1L, ONE_F32, new byte[8]);

        assertRejected(file).hasMessageContaining("header length 18446744073709551615 is larger than the");
    }

    @Test
    void headerLengthLargerThanTheFileIsRejected() throws Exception {
        int headerBytes = ONE_F32.length();
        Path file = raw(dir.resolve("long.safetensors"), headerBytes + 9, ONE_F32, new byte[8]);

        assertRejected(file).hasMessageContaining("header length " + (headerBytes + 9) + " is larger than the "
                + (headerBytes + 8) + " bytes after the length field");
    }

    @Test
    void headerLongerThanTheCapIsRejectedEvenWhenTheFileIsThatLarge() throws Exception {
        Path file = dir.resolve("sparse.safetensors");
        long length = SafeTensors.MAX_HEADER_BYTES + 1;
        try (RandomAccessFile sparse = new RandomAccessFile(file.toFile(), "rw")) {
            sparse.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(length).array());
            sparse.setLength(8 + length + 16);
        }

        assertRejected(file).hasMessageContaining("header length " + length + " exceeds the limit of "
                + SafeTensors.MAX_HEADER_BYTES + " bytes");
    }

    @Test
    void truncatedFileIsRejectedNamingTheTensorThatRunsPastTheEnd() throws Exception {
        Path file = dir.resolve("truncated.safetensors");
        SafeTensors.write(file, Map.of("a", f32("a", new long[] {2}, 1f, 2f), "b", f32("b", new long[] {3}, 3f, 4f, 5f)),
                Map.of());
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 5));

        assertRejected(file).hasMessage(file + ": tensor b: data_offsets [8, 20] run past the end of the data region,"
                + " which holds 15 bytes (file truncated?)");
    }

    @Test
    void fileTruncatedInsideTheHeaderIsRejected() throws Exception {
        Path file = dir.resolve("cut.safetensors");
        SafeTensors.write(file, Map.of("a", f32("a", new long[] {2}, 1f, 2f)), Map.of());
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, 20));

        assertRejected(file).hasMessageContaining("is larger than the 12 bytes after the length field");
    }

    @Test
    void corruptJsonIsRejected() throws Exception {
        Path file = raw(dir.resolve("corrupt.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],", new byte[8]);

        assertRejected(file).hasMessageContaining(file + ": header is not valid JSON");
    }

    @Test
    void headerThatIsNotAJsonObjectIsRejected() throws Exception {
        Path file = raw(dir.resolve("array.safetensors"), "[1, 2, 3]", new byte[0]);

        assertRejected(file).hasMessageContaining("header is a JSON array; expected an object");
    }

    @Test
    void invalidUtf8InTheHeaderIsRejected() throws Exception {
        Path file = dir.resolve("latin1.safetensors");
        byte[] header = "{\"w\u00e9\":{}}".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        ByteBuffer bytes = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
        Files.write(file, bytes.putLong(header.length).put(header).array());

        assertRejected(file).hasMessageContaining("header is not valid UTF-8");
    }

    @Test
    void trailingGarbageAfterTheHeaderObjectIsRejected() throws Exception {
        Path file = raw(dir.resolve("trailing.safetensors"), ONE_F32 + " {}", new byte[8]);

        assertRejected(file).hasMessageContaining("header is not valid JSON");
    }

    @Test
    void duplicateTensorNamesAreRejected() throws Exception {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        Path file = raw(dir.resolve("duplicate.safetensors"), header, new byte[8]);

        assertRejected(file).hasMessageContaining("header is not valid JSON").hasMessageContaining("Duplicate field 'w'");
    }

    @Test
    void unknownDtypeIsRejectedListingTheAcceptedOnes() throws Exception {
        Path file = raw(dir.resolve("dtype.safetensors"),
                "{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,1]}}", new byte[1]);

        assertRejected(file).hasMessage(file + ": tensor w: unknown dtype \"Q4\"; accepted: "
                + "F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL");
    }

    @Test
    void overlappingOffsetsAreRejectedNamingBothTensors() throws Exception {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        Path file = raw(dir.resolve("overlap.safetensors"), header, new byte[12]);

        assertRejected(file).hasMessage(file + ": tensor b: data_offsets [4, 12] overlap those of tensor a [0, 8];"
                + " tensors must occupy disjoint byte ranges");
    }

    @Test
    void aliasedOffsetsOfTwoTensorsAreRejected() throws Exception {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
        Path file = raw(dir.resolve("alias.safetensors"), header, new byte[8]);

        assertRejected(file).hasMessageContaining("overlap those of tensor");
    }

    @Test
    void emptyTensorsNeverOverlapAndGapsAreAccepted() throws Exception {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[12,14]}}";
        Path file = raw(dir.resolve("gaps.safetensors"), header, new byte[] {0, 0, -128, 63, 0, 0, 0, 64, 9, 9, 9, 9, 5, 6});

        Checkpoint checkpoint = SafeTensors.read(file);

        assertThat(checkpoint.tensors()).containsOnlyKeys("a", "b", "e");
        assertThat(checkpoint.tensor("a").data().asFloatBuffer().get(1)).isEqualTo(2f);
        assertThat(checkpoint.tensor("b").data().get(1)).isEqualTo((byte) 6);
    }

    @Test
    void offsetsPastTheEndOfTheDataAreRejected() throws Exception {
        Path file = raw(dir.resolve("past.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1000000,1000008]}}", new byte[8]);

        assertRejected(file).hasMessageContaining("tensor w: data_offsets [1000000, 1000008] run past the end of the"
                + " data region, which holds 8 bytes");
    }

    @Test
    void offsetsNearLongMaxDoNotOverflowIntoAcceptance() throws Exception {
        Path file = raw(dir.resolve("max.safetensors"),
                "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[9223372036854775807,9223372036854775807]}}",
                new byte[0]);

        assertRejected(file).hasMessageContaining("run past the end of the data region");
    }

    @Test
    void sizeMismatchBetweenOffsetsAndShapeIsRejected() throws Exception {
        Path file = raw(dir.resolve("model.ckpt"),
                "{\"layers.0.attn.q_proj\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", new byte[24]);

        assertRejected(file).hasMessage(file + ": tensor layers.0.attn.q_proj: data_offsets [0, 12] hold 12 bytes but"
                + " F32 [2, 3] needs 24");
    }

    @Test
    void shapeWhoseByteCountOverflowsIsRejected() throws Exception {
        Path file = raw(dir.resolve("overflow.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}", new byte[0]);

        assertRejected(file).hasMessageContaining("tensor w: F32 [4611686018427387904, 4] overflows a 64-bit byte count");
    }

    @Test
    void negativeOrFractionalShapeIsRejected() throws Exception {
        Path negative = raw(dir.resolve("negative.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]);
        Path fraction = raw(dir.resolve("fraction.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", new byte[8]);

        assertRejected(negative).hasMessageContaining("tensor w: shape is [-2]; expected an array of non-negative integers");
        assertRejected(fraction).hasMessageContaining("tensor w: shape is [2.0]; expected an array of non-negative integers");
    }

    @Test
    void malformedDataOffsetsAreRejected() throws Exception {
        Path three = raw(dir.resolve("three.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", new byte[8]);
        Path backwards = raw(dir.resolve("backwards.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", new byte[8]);

        assertRejected(three).hasMessageContaining("data_offsets is [0,4,8]; expected an array of 2 non-negative integers");
        assertRejected(backwards).hasMessageContaining("data_offsets [8, 0] end before they begin");
    }

    @Test
    void entryWithAMissingOrUnknownKeyIsRejected() throws Exception {
        Path missing = raw(dir.resolve("missing.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", new byte[8]);
        Path unknown = raw(dir.resolve("unknown.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"stride\":[1]}}", new byte[8]);
        Path notObject = raw(dir.resolve("string.safetensors"), "{\"w\":\"F32\"}", new byte[0]);

        assertRejected(missing).hasMessageContaining("tensor w: \"data_offsets\" is missing");
        assertRejected(unknown).hasMessageContaining("tensor w: unknown key \"stride\"; accepted keys are dtype, shape, data_offsets");
        assertRejected(notObject).hasMessageContaining("tensor w: entry is a JSON string");
    }

    @Test
    void metadataWithANonStringValueIsRejected() throws Exception {
        Path file = raw(dir.resolve("meta.safetensors"), "{\"__metadata__\":{\"step\":3}}", new byte[0]);

        assertRejected(file).hasMessageContaining("metadata key step has a JSON number value; metadata values must be strings");
    }

    @Test
    void missingFileIsReportedAsSuch() {
        Path file = dir.resolve("absent.safetensors");

        assertRejected(file).hasMessage(file + ": no such checkpoint file");
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertRejected(Path file) {
        return assertThatThrownBy(() -> SafeTensors.read(file)).isInstanceOf(CheckpointException.class);
    }
}
