//! Router tests: requests through `router()` with no socket.
