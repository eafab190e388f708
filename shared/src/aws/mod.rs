//! AWS adapters: one module per service, each owning its SDK details and its error mapping into the ports' errors.

pub mod dynamo;
pub mod ecs;
pub mod events;
pub mod keys;
pub mod rules;
pub mod sdk_error;
pub mod services;
pub mod table;
