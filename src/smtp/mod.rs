//! SMTP: a sans-I/O session (`session`, with `command`, `data`, `auth`, `reply`) and the only code
//! that does I/O for it (`conn` for one connection, `listener` for the accept loop).

pub mod auth;
pub mod command;
pub mod conn;
pub mod data;
pub mod listener;
pub mod reply;
pub mod session;

pub use reply::Reply;
pub use session::{Output, Received, Session, SessionConfig};
