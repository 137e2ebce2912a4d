package dev.manyfold.api;

/** The version of this API, checked against each plugin's required range. */
public final class ApiVersion {
    /** The API version this jar implements. */
    public static final String CURRENT = "1.1.0";

    private ApiVersion() {}
}
