// Package retry is the one back-off every retry loop in Vasto uses:
// exponential, bounded, and jittered so that many stores or clients that
// failed together do not retry together (Backoff, Exp, Jitter), and the
// context-aware sleeps those loops wait with (Sleep, SleepOrWake).
//
// It imports the standard library only, so every package may use it, the
// client included.
package retry
