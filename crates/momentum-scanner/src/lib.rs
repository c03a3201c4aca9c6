//! Serving side of momentum: promotion gates, the daily scan and live monitoring.
mod error;
pub mod drift;
pub mod history;
pub mod monitor;
pub mod promotion;
pub mod scan;
pub use error::ScanError;
