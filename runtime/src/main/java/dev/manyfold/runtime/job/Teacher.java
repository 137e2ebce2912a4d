package dev.manyfold.runtime.job;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import dev.manyfold.runtime.model.Model;
import dev.manyfold.runtime.model.ModelFactory;
import java.util.List;

/**
 * The frozen dense teacher of a distillation run ({@code Objective.needsTeacher()}): a second
 * model of the same configuration holding a copy of the student's base tensors as they are
 * when it is built. {@link TrainJob} builds it after {@code train.init} is applied and before
 * training, so it holds the starting weights; masks (set by the trainer at step 0) and
 * adapters ({@code adapters.*}, never part of the copy) do not reach it.
 *
 * <p>Every teacher tensor is frozen: no gradient is recorded for it, and since the trainer
 * only updates the student's {@code parameters().trainable()}, it never has optimiser state
 * or changes. Its parameter store is a sub-manager of the student's, so it is freed with it.
 */
public final class Teacher {
    private Teacher() {}

    /** Builds the teacher from the student's current base tensors and sets it on the student. */
    public static Model attach(Model student) {
        requireNonNull(student, "student is null");
        Model teacher = ModelFactory.fromConfig(student.config(), 0, student.parameters().manager());
        for (var e : teacher.parameters().all().entrySet()) {
            String name = e.getKey();
            if (!student.parameters().contains(name)) {
                throw new IllegalStateException("the teacher's tensor " + name + " is not in the student");
            }
            NDArray from = student.parameters().get(name);
            teacher.parameters().assign(name, from);
        }
        for (String name : List.copyOf(teacher.parameters().trainable())) {
            teacher.parameters().setTrainable(name, false);
        }
        student.setTeacher(teacher);
        return teacher;
    }
}
