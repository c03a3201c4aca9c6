//! Integration tests of momentum-data: the API client against a loopback HTTP server, and the
//! file round trips and failure modes.

mod client;
mod files;
mod props;
