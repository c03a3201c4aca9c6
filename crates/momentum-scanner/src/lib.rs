//! Serving side of momentum: promotion gates, the daily scan and live monitoring.
pub mod drift;
mod error;
pub mod promotion;
pub use error::ScanError;
