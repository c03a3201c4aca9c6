//! One module per subcommand: its clap `Args` and a `run` that wires the library crates.

pub mod backtest;
pub mod features;
pub mod fetch;
pub mod monitor;
pub mod production;
pub mod promote;
pub mod runs;
pub mod scan;
