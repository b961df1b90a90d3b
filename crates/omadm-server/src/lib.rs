//! # omadm-server
//!
//! The OMA DM 1.2/1.3 server:
//!
//! | module | what |
//! |---|---|
//! | [`engine`] | the sans-IO session engine: one client message in, the reply and the changes to store out |
//! | [`model`] | devices, credentials, jobs with per-command outcome, events, learnt tree values |
//! | [`store`] | the [`store::Store`] trait and its SQLite/PostgreSQL implementation |
//! | [`http`] | the HTTP(S) binding of the DM endpoint and the server runtime |
//! | [`api`] | the REST API for operators, with its OpenAPI document |
//! | [`metrics`] | counters since start and the process's CPU time and memory, for `GET /api/stats` |
//! | [`tls`] | rustls configuration: given or self-signed certificates, client certificates |
//! | [`bootstrap`] | plain-profile (TNDS) and WAP-profile bootstrap documents |
//! | [`client`] | a small REST API client (operator CLI, load generator, tests) |
#![warn(missing_docs)]

pub mod api;
pub mod bootstrap;
pub mod client;
pub mod engine;
pub mod http;
pub mod metrics;
pub mod model;
pub mod store;
pub mod tls;
