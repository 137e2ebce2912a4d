package dev.manyfold.api;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks an API element that may still change incompatibly in a minor release. Everything
 * not marked follows semantic versioning of the API version ({@link ApiVersion#CURRENT}).
 */
@Documented
@Retention(RetentionPolicy.CLASS)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.FIELD})
public @interface Experimental {
    /** Why the element is experimental, or what is expected to change. */
    String value() default "";
}
