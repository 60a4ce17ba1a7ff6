//! Benchmarks for the notary: a load generator that pre-signs attestations
//! from many department keys and drives a running notary over keep-alive
//! HTTP/1.1 connections, and in-process measurements of the machine's Ed25519
//! verification ceiling.

pub mod breakdown;
pub mod ceiling;
pub mod client;
pub mod machine;
pub mod stats;
pub mod witness_bench;
pub mod workload;
