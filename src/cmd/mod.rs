//! The client commands of the binary, kept out of the server library: `sendmail` (a message on
//! standard input submitted over SMTP) and `healthcheck` (`GET /readyz` for container health
//! checks). [`connect`] is the one way both reach the server.

pub mod connect;
pub mod healthcheck;
pub mod sendmail;
