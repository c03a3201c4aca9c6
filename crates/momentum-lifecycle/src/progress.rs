//! How long work reports progress, without the library knowing how it is shown.

/// Receives the progress of a long step (the grid, the downloads). The command-line binary
/// draws a bar; a library caller may log, or pass [`Silent`].
pub trait Progress: Send + Sync {
    /// A step of `total` units called `label` starts.
    fn start(&self, label: &str, total: u64);
    /// `units` more are done; `note` says which (a ticker), when there is one.
    fn advance(&self, units: u64, note: Option<&str>);
    /// The step is over.
    fn finish(&self);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _label: &str, _total: u64) {}
    fn advance(&self, _units: u64, _note: Option<&str>) {}
    fn finish(&self) {}
}
