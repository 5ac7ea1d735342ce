//! Checks of a captured message's content, each answering one of Mailpit's check routes.
//!
//! - [`html`]: HTML and CSS features against email clients' support (caniemail data).

pub mod html;
