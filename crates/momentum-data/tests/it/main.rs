//! Integration tests of momentum-data: the API client against a loopback HTTP server, and the
//! file round trips and failure modes.

#[cfg(feature = "http")]
mod client;
#[cfg(feature = "parquet")]
mod files;
mod props;
