//! A retry policy at work: its backoff schedule (ceiling and a jittered draw per retry), a
//! server's `Retry-After` capped, and a retry loop against a closed port on 127.0.0.1 that
//! gives up and reports the refused connection with its causes. Loopback only.
//!
//! ```text
//! cargo run -p momentum-http --example backoff
//! ```

use std::time::{Duration, Instant};

use momentum_http::{RetryPolicy, client, describe, retry_after};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = RetryPolicy {
        max_retries: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(30),
    };
    println!("retry  ceiling  backoff (random in [ceiling/2, ceiling])");
    for retry in 0..=policy.max_retries {
        match policy.retry_in(retry, None) {
            Some(wait) => println!("{:>5}  {:>7?}  {wait:?}", retry + 1, policy.ceiling(retry)),
            None => println!("{:>5}  give up after {retry} retries", retry + 1),
        }
    }

    // A server that asks for two minutes gets the policy's cap.
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
    let asked = retry_after(&headers);
    println!(
        "Retry-After: 120 -> wait {:?}",
        policy.retry_in(0, asked).ok_or("no retry")?
    );

    // A port that was free a moment ago: every attempt is refused, then the loop gives up.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let http = client(
        "momentum-http-example",
        Duration::from_secs(2),
        reqwest::redirect::Policy::none(),
    )?;
    let started = Instant::now();
    let mut retries = 0;
    let err = loop {
        match http.get(format!("http://127.0.0.1:{port}/")).send().await {
            Ok(response) => {
                return Err(format!("port {port} answered {}", response.status()).into());
            }
            Err(err) => match policy.retry_in(retries, None) {
                Some(wait) => {
                    retries += 1;
                    tokio::time::sleep(wait).await;
                }
                None => break err,
            },
        }
    };
    println!(
        "gave up after {} attempts in {:?}: {}",
        retries + 1,
        started.elapsed(),
        describe(err)
    );
    Ok(())
}
