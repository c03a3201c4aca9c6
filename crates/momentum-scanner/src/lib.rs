//! Serving side of momentum: promotion gates, the daily scan and live monitoring.
pub mod drift;
mod error;
pub mod history;
pub mod monitor;
pub mod promotion;
pub mod scan;
pub use error::ScanError;
