//! The all-or-nothing writes every writer here (and the crates above) goes through; they live
//! in `momentum-files`, shared with the tracking store.

pub use momentum_files::{write_atomic, write_together};
