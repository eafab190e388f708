//! The in-memory fakes held to the ports' contracts: the same functions `tests/` runs against the AWS adapters on the
//! emulator (`fsched_core::testing::contract`).

use fsched_core::testing::MemoryStore;

fsched_core::store_contract!(MemoryStore::new());
