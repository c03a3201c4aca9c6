//! Text a server sent, made fit for an error or a log line: without the credentials the client
//! sent, on one line, and short.
//!
//! A server or a proxy may echo the request's headers in its error body (`'authorization':
//! 'Basic dXNlcjpwYXNz'`, `'x-api-key': '...'`): printed word for word, that body would put a
//! credential in a terminal, a CI log or an issue.

use base64::Engine;

/// The most characters of a server's text [`Secrets::scrub`] keeps.
pub const MAX_SERVER_TEXT: usize = 300;

/// What stands in for a secret in [`Secrets::scrub`]'s text.
pub const REDACTED: &str = "<redacted>";

/// The bytes of a server's text that are read at all: far more than [`MAX_SERVER_TEXT`]
/// characters once whitespace is folded, far less than a body may hold.
pub(crate) const SCANNED_BYTES: usize = 16 << 10;

/// The credentials a client sends with its requests, to be removed from what its server
/// answers. `Debug` shows how many strings it looks for (each secret in its echoed forms), never
/// what.
///
/// # Example
/// ```
/// use momentum_http::Secrets;
/// let secrets = Secrets::default().with("APIKEY_ZZ").with_basic("alice", "pw-123");
/// let body = "401 unauthorized\r\n'x-api-key': 'APIKEY_ZZ'\r\n\
///             'authorization': 'Basic YWxpY2U6cHctMTIz'";
/// assert_eq!(
///     secrets.scrub(body),
///     "401 unauthorized 'x-api-key': '<redacted>' 'authorization': 'Basic <redacted>'"
/// );
/// ```
#[derive(Clone, Default)]
pub struct Secrets(Vec<String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} redacted)", self.0.len())
    }
}

impl Secrets {
    /// These secrets and `secret` (an API key, a token, a password), in the forms a server may
    /// echo it in: as sent, percent-encoded (a query string or a URL in an error page, with
    /// upper- or lower-case hex digits) and escaped inside a JSON string. An empty one is
    /// ignored: it would match everywhere.
    pub fn with(mut self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        let encoded = percent_encoding::utf8_percent_encode(secret, ENCODED).to_string();
        let lower = lower_hex_escapes(&encoded);
        let json = secret.replace('\\', "\\\\").replace('"', "\\\"");
        for form in [secret.to_string(), encoded, lower, json] {
            if !self.0.contains(&form) {
                self.0.push(form);
            }
        }
        self
    }

    /// These secrets and what an `Authorization: Basic` header carries: the password,
    /// `username:password`, and that pair in base64 as reqwest's `basic_auth` sends it
    /// (standard alphabet, padded). The user name is not a secret, unless the password is
    /// empty: then it is the credential (a token as the user of `https://TOKEN@host`).
    pub fn with_basic(self, username: &str, password: &str) -> Self {
        let credential = if password.is_empty() {
            username
        } else {
            password
        };
        if credential.is_empty() {
            return self;
        }
        let pair = format!("{username}:{password}");
        let sent = base64::engine::general_purpose::STANDARD.encode(&pair);
        self.with(credential).with(&pair).with(&sent)
    }

    /// `text`, which a server sent, ready for an error message or a log line: every occurrence
    /// of every secret (overlapping ones included) replaced by [`REDACTED`], runs of whitespace
    /// (line breaks included) folded into one space, and cut after [`MAX_SERVER_TEXT`]
    /// characters, with `…` marking the cut.
    pub fn scrub(&self, text: &str) -> String {
        let (redacted, rest) = self.redact(text);
        let mut line = String::new();
        let mut chars = 0;
        for word in redacted.split_whitespace() {
            for c in (!line.is_empty())
                .then_some(' ')
                .into_iter()
                .chain(word.chars())
            {
                if chars == MAX_SERVER_TEXT {
                    line.truncate(line.trim_end().len());
                    line.push('…');
                    return line;
                }
                line.push(c);
                chars += 1;
            }
        }
        if rest {
            line.push('…');
        }
        line
    }

    /// The first [`SCANNED_BYTES`] of `text` with each stretch covered by secrets replaced by
    /// one [`REDACTED`], and whether text beyond them was left out. Secrets are looked for a
    /// little past that end, so that one cut by it is found too.
    fn redact(&self, text: &str) -> (String, bool) {
        let end = floor_char_boundary(text, SCANNED_BYTES);
        let longest = self.0.iter().map(String::len).max().unwrap_or(0);
        let searched = &text[..floor_char_boundary(text, end + longest)];
        let mut covered = vec![false; end];
        for secret in &self.0 {
            let mut from = 0;
            while let Some(found) = searched[from..].find(secret.as_str()) {
                let start = from + found;
                if start >= end {
                    break;
                }
                covered[start..end.min(start + secret.len())].fill(true);
                // One character on, not past the match: "aa" twice in "aaa".
                from = start + searched[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
        let mut out = String::with_capacity(end);
        let mut in_secret = false;
        for (at, c) in text[..end].char_indices() {
            if !covered[at] {
                out.push(c);
            } else if !in_secret {
                out.push_str(REDACTED);
            }
            in_secret = covered[at];
        }
        (out, end < text.len())
    }
}

/// What a URL encoder escapes: everything but letters, digits and `-` `.` `_` `~` (RFC 3986's
/// unreserved characters).
const ENCODED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `encoded` (percent-encoded, upper-case hex digits) with the two hex digits after each `%`
/// in lower case.
fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if hex_left > 0 {
            out.push(c.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            out.push(c);
            if c == '%' {
                hex_left = 2;
            }
        }
    }
    out
}

/// The largest char boundary of `text` at or before `at` (`str::floor_char_boundary`, newer
/// than the workspace's minimum Rust).
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_of_every_secret_is_replaced() {
        let secrets = Secrets::default().with("KEY1").with("tok-9");
        assert_eq!(
            secrets.scrub("KEY1 then tok-9, KEY1 again:KEY1KEY1"),
            "<redacted> then <redacted>, <redacted> again:<redacted>"
        );
        assert_eq!(secrets.scrub("nothing secret"), "nothing secret");
    }

    #[test]
    fn overlapping_secrets_leave_no_part_of_either() {
        let secrets = Secrets::default().with("abcd").with("cdef");
        assert_eq!(secrets.scrub("xabcdefx"), "x<redacted>x");
        // A secret that overlaps itself: every occurrence, not every other one.
        let secrets = Secrets::default().with("aa");
        assert_eq!(secrets.scrub("baaab"), "b<redacted>b");
        // One secret inside another.
        let secrets = Secrets::default().with("pass").with("user:pass");
        assert_eq!(
            secrets.scrub("[user:pass] [pass]"),
            "[<redacted>] [<redacted>]"
        );
    }

    #[test]
    fn a_secret_echoed_percent_encoded_or_json_escaped_is_replaced_too() {
        let secrets = Secrets::default().with("p@ss/w\"rd\\ö");
        for echoed in [
            "p%40ss%2Fw%22rd%5C%C3%B6",
            "p%40ss%2fw%22rd%5c%c3%b6",
            "p@ss/w\\\"rd\\\\ö",
            "p@ss/w\"rd\\ö",
        ] {
            assert_eq!(
                secrets.scrub(&format!("GET /x?password={echoed} failed")),
                "GET /x?password=<redacted> failed",
                "{echoed}"
            );
        }
        // A secret with nothing to encode has one form.
        assert_eq!(
            format!("{:?}", Secrets::default().with("TOKEN_123-abc.~")),
            "Secrets(1 redacted)"
        );
    }

    #[test]
    fn empty_secrets_are_ignored() {
        let secrets = Secrets::default().with("").with_basic("", "");
        assert_eq!(format!("{secrets:?}"), "Secrets(0 redacted)");
        assert_eq!(secrets.scrub("a: b"), "a: b");
    }

    #[test]
    fn basic_auth_is_covered_as_reqwest_sends_it() {
        let secrets = Secrets::default().with_basic("USERNAME_ZZ", "SECRETPW_ZZ");
        let request = crate::client(
            "momentum-http-test",
            std::time::Duration::from_secs(1),
            reqwest::redirect::Policy::none(),
        )
        .unwrap()
        .get("http://127.0.0.1:1/")
        .basic_auth("USERNAME_ZZ", Some("SECRETPW_ZZ"))
        .build()
        .unwrap();
        let header = request.headers()[reqwest::header::AUTHORIZATION]
            .to_str()
            .unwrap();
        assert_eq!(header, "Basic VVNFUk5BTUVfWlo6U0VDUkVUUFdfWlo=");
        assert_eq!(secrets.scrub(header), "Basic <redacted>");
        assert_eq!(
            secrets.scrub("USERNAME_ZZ:SECRETPW_ZZ, or SECRETPW_ZZ, as USERNAME_ZZ"),
            "<redacted>, or <redacted>, as USERNAME_ZZ"
        );
        // A token as the user name, without a password.
        let secrets = Secrets::default().with_basic("TOKEN_ZZ", "");
        assert_eq!(
            secrets.scrub("TOKEN_ZZ Basic VE9LRU5fWlo6"),
            "<redacted> Basic <redacted>"
        );
    }

    #[test]
    fn the_text_is_one_line() {
        let secrets = Secrets::default();
        assert_eq!(
            secrets.scrub("<html>\r\n  <title>401</title>\n\t</html>\n"),
            "<html> <title>401</title> </html>"
        );
        assert_eq!(secrets.scrub(" \n "), "");
    }

    #[test]
    fn a_long_text_is_cut_on_a_char_boundary() {
        let secrets = Secrets::default();
        let short = "é".repeat(MAX_SERVER_TEXT);
        assert_eq!(
            secrets.scrub(&short),
            short,
            "exactly the limit is kept whole"
        );
        let cut = secrets.scrub(&"é€".repeat(MAX_SERVER_TEXT));
        assert_eq!(cut.chars().count(), MAX_SERVER_TEXT + 1);
        assert!(cut.starts_with("é€é€") && cut.ends_with("€…"), "{cut}");
        // Whitespace is folded before counting, and the cut leaves no space before the `…`.
        let cut = secrets.scrub(&"ab \n".repeat(MAX_SERVER_TEXT));
        assert_eq!(cut, format!("{}ab…", "ab ".repeat(MAX_SERVER_TEXT / 3 - 1)));
    }

    #[test]
    fn a_secret_across_the_end_of_the_scanned_bytes_is_still_found() {
        let secrets = Secrets::default().with("SECRET");
        for before in SCANNED_BYTES - 12..SCANNED_BYTES + 2 {
            // Spaces fold away, so what is left of the text is within the limit; the `€` puts
            // the end of the scanned bytes inside a character for some `before`.
            for text in [
                format!("{}SECRET tail", " ".repeat(before)),
                format!("{}€SECRET€", " ".repeat(before)),
            ] {
                let shown = secrets.scrub(&text);
                assert!(
                    !shown.chars().any(|c| "SECRT".contains(c)),
                    "{before}: {shown}"
                );
            }
        }
    }
}
