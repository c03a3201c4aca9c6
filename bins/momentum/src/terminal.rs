//! What reaches the terminal. Text printed here can come from files and servers the user does
//! not control (a run name or tag from a tracking server, a ticker of a hand-edited
//! `params.yaml`, a path): an escape sequence in it would move the cursor, retitle the window or
//! hide the rest of the line. Every line of stdout goes through [`say!`], every note on stderr
//! through [`note!`] and the error line through [`one_line`], which show a control character as
//! its `\u{..}` escape instead.

use std::borrow::Cow;

/// `text` with every control character but line breaks and tabs shown as `\u{..}`.
pub fn lines(text: &str) -> Cow<'_, str> {
    escape(text, |c| c != '\n' && c != '\t')
}

/// `text` with every control character shown as `\u{..}`: one line, whatever it holds.
pub fn one_line(text: &str) -> Cow<'_, str> {
    escape(text, |_| true)
}

fn escape(text: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && escaped(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `println!` with control characters escaped ([`lines`]).
macro_rules! say {
    () => {
        println!()
    };
    ($($arg:tt)*) => {
        println!("{}", $crate::terminal::lines(&format!($($arg)*)))
    };
}
pub(crate) use say;

/// `eprintln!` with control characters escaped ([`lines`]): what a command says beside its
/// output (a table's count, a warning), kept off stdout so that CSV and JSON stay clean.
macro_rules! note {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::terminal::lines(&format!($($arg)*)))
    };
}
pub(crate) use note;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert!(matches!(lines("AAPL\t1.5\nMSFT"), Cow::Borrowed(_)));
        assert_eq!(
            lines("run \x1b]0;owned\x07 done\n"),
            "run \\u{1b}]0;owned\\u{7} done\n"
        );
        assert_eq!(one_line("bad\nline\r"), "bad\\u{a}line\\u{d}");
        // Not a control character: left alone.
        assert_eq!(one_line("Zürich €"), "Zürich €");
    }
}
