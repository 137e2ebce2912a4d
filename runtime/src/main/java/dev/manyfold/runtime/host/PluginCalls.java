package dev.manyfold.runtime.host;

import ai.djl.ndarray.NDArray;
import dev.manyfold.api.ConfigException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Wraps every object a plugin hands to the host (its factories, and what they create:
 * decoders, objectives, adapters and their attached instances, mask strategies, pruning
 * steps...) in a proxy of its API interfaces, so that any exception thrown from plugin code
 * reaches the user as a {@link PluginException} naming the plugin and the factory. A
 * {@link ConfigException} passes through unchanged: it already names its recipe path.
 *
 * <p>Only interfaces of the API package are proxied; the proxy implements all of them that the
 * object implements, so the host's {@code instanceof} checks on API interfaces keep working.
 * The cost is one reflective call per plugin call, negligible next to a tensor op.
 */
public final class PluginCalls {
    private static final String API = "dev.manyfold.api.";

    private PluginCalls() {}

    /** The object wrapped for {@code plugin}'s factory {@code factory} of the given kind label. */
    static <T> T wrap(T target, String plugin, String kind, String factory) {
        if (target == null || Proxy.isProxyClass(target.getClass()) && Proxy.getInvocationHandler(target) instanceof Handler) {
            return target;
        }
        Set<Class<?>> interfaces = new LinkedHashSet<>();
        for (Class<?> c = target.getClass(); c != null; c = c.getSuperclass()) {
            collect(c, interfaces);
        }
        if (interfaces.isEmpty()) {
            return target;
        }
        // Defined in the plugin's own class loader (which sees the API), so the instance still reports its plugin's
        // loader (getClass().getClassLoader()); the API's loader when the target's cannot see the interfaces.
        Class<?>[] types = interfaces.toArray(new Class<?>[0]);
        Handler handler = new Handler(target, plugin, kind, factory);
        ClassLoader own = target.getClass().getClassLoader();
        Object proxy;
        try {
            proxy = Proxy.newProxyInstance(own != null ? own : dev.manyfold.api.Plugin.class.getClassLoader(), types, handler);
        } catch (IllegalArgumentException e) {
            proxy = Proxy.newProxyInstance(dev.manyfold.api.Plugin.class.getClassLoader(), types, handler);
        }
        @SuppressWarnings("unchecked")
        T typed = (T) proxy;
        return typed;
    }

    /**
     * Who made an object, for messages: {@code objective "label-smoothing" of plugin [acme]}, or
     * its class name when it did not come from a loaded plugin.
     */
    public static String origin(Object o) {
        if (o != null && Proxy.isProxyClass(o.getClass()) && Proxy.getInvocationHandler(o) instanceof Handler h) {
            return h.kind + " \"" + h.factory + "\" of plugin [" + h.plugin + "]";
        }
        return o == null ? "null" : o.getClass().getName();
    }

    /** The plugin's object behind a proxy made by {@link #wrap}, or the object itself (for embedders that need its class). */
    public static Object unwrap(Object o) {
        if (o != null && Proxy.isProxyClass(o.getClass()) && Proxy.getInvocationHandler(o) instanceof Handler h) {
            return h.target;
        }
        return o;
    }

    /** Objects the host implements and hands to plugins (a plugin may return them): never wrapped. */
    private static boolean hostSide(Object o) {
        return o instanceof dev.manyfold.api.Context || o instanceof dev.manyfold.api.ModelShape
                || o instanceof dev.manyfold.api.objective.ElasticModel || o instanceof dev.manyfold.api.decoder.LanguageModel
                || o instanceof dev.manyfold.api.objective.Batch;
    }

    private static void collect(Class<?> c, Set<Class<?>> out) {
        for (Class<?> i : c.getInterfaces()) {
            if (i.getName().startsWith(API) && java.lang.reflect.Modifier.isPublic(i.getModifiers())) {
                out.add(i);
            }
            collect(i, out);
        }
    }

    private record Handler(Object target, String plugin, String kind, String factory) implements InvocationHandler {
        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            switch (method.getName()) {
                case "equals":
                    if (method.getParameterCount() == 1 && method.getParameterTypes()[0] == Object.class) {
                        return target.equals(unwrap(args[0]));
                    }
                    break;
                case "hashCode":
                    if (method.getParameterCount() == 0) {
                        return target.hashCode();
                    }
                    break;
                case "toString":
                    if (method.getParameterCount() == 0) {
                        return target.toString();
                    }
                    break;
                default:
                    break;
            }
            Object result;
            try {
                result = method.invoke(target, args);
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                if (cause instanceof ConfigException || cause instanceof PluginException || cause instanceof HostSignal
                        || cause instanceof VirtualMachineError) {
                    throw cause;
                }
                if (cause instanceof RuntimeException || cause instanceof LinkageError || cause instanceof AssertionError) {
                    throw new PluginException(plugin, kind, factory, method.getDeclaringClass().getSimpleName() + "." + method.getName(), cause);
                }
                throw cause;
            }
            // Generic methods (Factory.create) erase to Object: decide by what came back.
            if (result != null && !(result instanceof NDArray) && !hostSide(result)) {
                return wrap(result, plugin, kind, factory);
            }
            return result;
        }
    }
}
