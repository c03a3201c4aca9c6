//! Progress bars: drawn on stderr when it is a terminal, hidden otherwise (CI logs, DVC).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use momentum_lifecycle::Progress;

/// The library's [`Progress`] as an `indicatif` bar on stderr.
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar that shows itself only when stderr is a terminal.
    pub fn new() -> Self {
        let target = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({eta})")
                .expect("static template is valid")
                .progress_chars("=> "),
        );
        Self(bar)
    }
}

impl Progress for Bar {
    fn start(&self, label: &str, total: u64) {
        self.0.reset();
        self.0.set_length(total);
        self.0.set_message(label.to_owned());
    }

    fn advance(&self, units: u64, note: Option<&str>) {
        if let Some(note) = note {
            self.0.set_message(note.to_owned());
        }
        self.0.inc(units);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
