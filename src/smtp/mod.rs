//! SMTP: a sans-I/O session (`session`, with `command`, `data`, `auth`, `reply`), the only code
//! that does I/O for it (`conn` for one connection, `listener` for the accept loop), `trace` for
//! the headers put on top of what is stored, and `drive`, which runs the session over byte streams
//! the way `conn` does, for tests and fuzzing.

pub mod auth;
pub mod command;
pub mod conn;
pub mod data;
pub mod drive;
pub mod listener;
pub mod reply;
pub mod session;
pub mod trace;

pub use reply::Reply;
pub use session::{Output, Received, Session, SessionConfig};
