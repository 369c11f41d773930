//! Support for `tests/conformance.rs`: the real-server harness, the client trait and
//! its two implementations, the generator, a freezable loopback proxy, and a raw
//! wire-protocol client that compares the servers directly.

pub mod harness;
pub mod mock_client;
pub mod model;
pub mod proxy;
pub mod raw;
pub mod real_client;
