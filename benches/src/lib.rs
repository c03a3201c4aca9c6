//! Criterion benchmarks of the momentum workspace.
