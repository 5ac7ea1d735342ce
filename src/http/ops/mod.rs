//! Operations around the APIs: who may call them ([`origin`], [`access`]), what the server is
//! ([`about`]), how it is doing ([`metrics`]), what its webhooks did ([`webhooks`]), and the
//! embedded UI ([`web`]).

pub mod about;
pub mod access;
pub mod metrics;
pub mod origin;
pub mod web;
pub mod webhooks;
