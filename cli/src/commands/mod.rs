//! One module per command.

pub mod next;
