//! `POST /api/v1/send`: builds a real MIME message from JSON and stores it as if received.
