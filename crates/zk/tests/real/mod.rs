//! Support for `tests/conformance.rs`: the real-server harness, the client trait and
//! its two implementations, the generator, and a freezable loopback proxy.

pub mod harness;
pub mod mock_client;
pub mod model;
pub mod proxy;
pub mod real_client;
