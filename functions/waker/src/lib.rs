//! The waker function's handler and its page, as a library so the tests drive them with real adapters.

pub mod handler;
pub mod page;
