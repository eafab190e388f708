//! Contract tests: one suite per port, run against the in-memory fake here and against the AWS adapter in
//! `tests/` (emulator), so both implementations are held to the same behaviour. `store_contract!` expands to one
//! `#[tokio::test]` per contract function, given an expression that makes a fresh, empty store.

pub mod tests;

pub use tests::job_spec;

/// One `#[tokio::test]` per store contract, each on the fresh store `$fresh` evaluates to (inside an async test).
#[macro_export]
macro_rules! store_contract {
    ($fresh:expr) => {
        $crate::store_contract!(@each $fresh;
            jobs_round_trip_with_optimistic_versions,
            listing_index_returns_every_job_by_name,
            timers_index_finds_only_what_is_due,
            advancing_a_job_moves_its_timer_only_from_the_one_it_was_read_with,
            a_run_is_claimed_once_and_updated_by_revision,
            runs_are_listed_newest_first_by_job_and_by_time_range,
            services_are_versioned_and_their_actions_listed_by_time,
            writes_to_items_that_do_not_exist_conflict,
            a_closed_run_stays_due_only_while_its_outbox_holds_something,
            a_pools_slots_are_taken_up_to_its_size_and_given_back
        );
    };
    (@each $fresh:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::testing::contract::tests::store::$name($fresh).await;
            }
        )*
    };
}
