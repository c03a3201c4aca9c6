//! One module per subcommand: its clap `Args` and a `run` that merges the flags into the
//! settings, calls `momentum-lifecycle` and prints.

pub mod ab;
pub mod backtest;
pub mod features;
pub mod fetch;
pub mod monitor;
pub mod promote;
pub mod report;
pub mod runs;
pub mod scan;
pub mod serve;
