package dev.manyfold.runtime.eval;

/**
 * How far a language model's depth exit is from its last layer, averaged over validation
 * token positions.
 *
 * @param exit the exit depth n (blocks run before the shared final norm and LM head)
 * @param kl mean KL(p_L ‖ p_n) in nats: the last layer's next-token distribution against
 *     this exit's
 * @param cosine mean cosine similarity of the hidden states entering the final norm at depth
 *     n and at depth L
 * @param positions the number of token positions averaged over
 */
public record ExitStat(int exit, double kl, double cosine, long positions) {}
