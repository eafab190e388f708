//! The trigger function's handler, as a library so the end-to-end tests drive it with real adapters.

pub mod handler;
