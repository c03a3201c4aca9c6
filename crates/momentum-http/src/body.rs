//! Response bodies read with a size cap: a server that answers with an endless body (or a
//! huge one) ends the request with an error instead of growing the process until it aborts.

/// The cap both clients apply unless told otherwise: 64 MiB, far above a page of prices or an
/// MLflow answer, far below what would hurt the machine.
pub const DEFAULT_MAX_BODY: usize = 64 << 20;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The body is longer than the cap (announced by `Content-Length` or found while reading).
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The connection failed while reading.
    Read(reqwest::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(
                f,
                "the response body is larger than the limit of {} (raise it with the client's max_body_bytes)",
                size(*limit)
            ),
            Self::Read(_) => f.write_str("reading the response body failed"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::TooLarge { .. } => None,
            Self::Read(err) => Some(err),
        }
    }
}

/// `bytes` for a message: whole MiB when it is some, else bytes.
fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads the body of `response`, at most `limit` bytes of it. A `Content-Length` above the
/// limit is refused before anything is read; otherwise the body is read chunk by chunk and
/// refused as soon as it passes the limit, so at most `limit` bytes (plus one chunk) are ever
/// held.
///
/// # Errors
/// [`BodyError::TooLarge`], or [`BodyError::Read`] when the connection fails.
///
/// # Example
/// ```no_run
/// # async fn demo(client: reqwest::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let response = client.get("http://127.0.0.1:5000/health").send().await?;
/// let body = momentum_http::read_body(response, momentum_http::DEFAULT_MAX_BODY).await?;
/// # let _ = body;
/// # Ok(())
/// # }
/// ```
pub async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let announced = response.content_length().unwrap_or(0);
    if usize::try_from(announced).map_or(true, |n| n > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The start of the body of `response` that [`crate::Secrets::scrub`] reads (a little more
/// than its scan), as text, for an error message: the rest of the body is never read, so an
/// error page of any size, or one that never ends, costs at most that much. A read that fails
/// ends the text where it failed; bytes that are not UTF-8 show as `U+FFFD`.
pub async fn read_error_text(mut response: reqwest::Response) -> String {
    let limit = crate::redact::SCANNED_BYTES + 1024;
    let mut head = Vec::new();
    while head.len() < limit {
        let Ok(Some(chunk)) = response.chunk().await else {
            break;
        };
        let room = limit - head.len();
        head.extend_from_slice(&chunk[..room.min(chunk.len())]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use super::*;

    /// A server on 127.0.0.1 that answers one request with `status` and a chunked body that
    /// never ends (it stops when the client hangs up, or after 1 GiB).
    fn endless_server(status: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut stream = stream;
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = format!("{:x}\r\n{}\r\n", 64 << 10, "7".repeat(64 << 10));
            for _ in 0..(1 << 14) {
                if stream.write_all(chunk.as_bytes()).is_err() {
                    return;
                }
            }
        });
        format!("http://{addr}/endless")
    }

    /// The response of an [`endless_server`] answering with `status`, its body not read yet.
    async fn endless_response(status: &'static str) -> reqwest::Response {
        let client = crate::client(
            "test",
            std::time::Duration::from_secs(30),
            reqwest::redirect::Policy::none(),
        )
        .unwrap();
        client.get(endless_server(status)).send().await.unwrap()
    }

    #[tokio::test]
    async fn an_endless_body_is_cut_at_the_limit() {
        let response = endless_response("200 OK").await;
        let err = read_body(response, 1 << 20).await.unwrap_err();
        assert!(
            matches!(err, BodyError::TooLarge { limit } if limit == 1 << 20),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "the response body is larger than the limit of 1 MiB (raise it with the client's max_body_bytes)"
        );
    }

    #[tokio::test]
    async fn an_endless_error_page_is_read_only_as_far_as_a_message_needs() {
        let response = endless_response("500 Internal Server Error").await;
        let text = read_error_text(response).await;
        // The scan and its margin, every byte of them the body's.
        assert_eq!(text.len(), crate::redact::SCANNED_BYTES + 1024);
        assert!(text.bytes().all(|b| b == b'7'));
    }
}
