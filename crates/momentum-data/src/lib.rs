//! Price ingestion for momentum (skeleton: owned by the data-ingestion work).
mod table;
pub use table::{PriceRow, PriceTable};
