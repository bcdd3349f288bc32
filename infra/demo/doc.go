// Package demo is what `make demo` sends, as FastPix would: a realistic
// life of the stream of FastPix's original description (its created
// payload byte for byte, the rest constructed in the same envelope and
// marked so), then the alert rules acted out on the clock (brief drops, an
// unstable encoder, a real drop and its recovery). It knows the webhook's
// URL and signing secret, nothing of the stack behind them: the local
// stack, the tests and the proofs send it the same way.
package demo
