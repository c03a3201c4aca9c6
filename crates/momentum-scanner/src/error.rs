//! Errors of the scanner crate.

/// Everything that can go wrong while promoting, scanning or monitoring.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// `params.yaml` could not be parsed or has no top-level mapping.
    #[error("cannot edit {what}: {reason}")]
    ParamsEdit {
        /// The file or block being edited.
        what: String,
        /// Why the edit failed.
        reason: String,
    },
}
