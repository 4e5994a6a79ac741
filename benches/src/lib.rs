//! Shared helpers for the Tally benchmarks.
