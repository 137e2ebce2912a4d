package dev.manyfold.runtime.serve;

import dev.manyfold.api.decoder.LanguageModel;
import java.util.ArrayList;
import java.util.List;

/**
 * The model ids a server offers: {@code RUN} (the full model) and {@code RUN:exit-N} for each
 * trained exit N below the full depth.
 */
final class Budgets {
    static final String EXIT = ":exit-";

    private Budgets() {}

    static List<String> ids(ServedModel served) {
        List<String> ids = new ArrayList<>();
        ids.add(served.id());
        LanguageModel model = served.model();
        for (int exit : model.exits()) {
            if (exit != model.layers()) {
                ids.add(served.id() + EXIT + exit);
            }
        }
        return ids;
    }

    /**
     * The exit depth a model id selects (the full depth for {@code RUN}).
     *
     * @throws ApiError 404 {@code model_not_found} listing the offered ids
     */
    static int exitOf(ServedModel served, String id) {
        LanguageModel model = served.model();
        if (id.equals(served.id())) {
            return model.layers();
        }
        if (id.startsWith(served.id() + EXIT)) {
            String n = id.substring(served.id().length() + EXIT.length());
            if (n.matches("[0-9]{1,6}") && model.exits().contains(Integer.parseInt(n)) && Integer.parseInt(n) != model.layers()) {
                return Integer.parseInt(n);
            }
        }
        throw new ApiError(404, "invalid_request_error", "model", "model_not_found", "model: the model `" + id
                + "` does not exist (accepted: one of " + ids(served) + "; trained exits " + model.exits() + ")");
    }
}
