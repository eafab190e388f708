//! Contract tests: one suite per port, run against the in-memory fake here and against the AWS adapter in
//! `tests/` (emulator), so both implementations are held to the same behaviour. Each `*_contract!` macro expands
//! to one `#[tokio::test]` per contract function: `store_contract!` given an expression that makes a fresh, empty
//! store; `launcher_contract!` one that makes `(launcher, spec, settle)` (`contract::tests::launcher`);
//! `scaler_contract!` one that makes a `ScalerWorld`.

pub mod tests;

pub use tests::{cost, job_spec};

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
            open_runs_are_the_open_and_the_blocked_among_the_newest,
            services_are_versioned_and_their_actions_listed_by_time,
            writes_to_items_that_do_not_exist_conflict,
            a_closed_run_stays_due_only_while_its_outbox_holds_something,
            a_pools_slots_are_taken_up_to_its_size_and_given_back,
            a_days_rollup_is_kept_over_the_generation_read_and_reopened_by_late_run_writes
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

/// One `#[tokio::test]` per launcher contract, each on the `(launcher, spec, settle)` that `$fresh` evaluates to.
#[macro_export]
macro_rules! launcher_contract {
    ($fresh:expr) => {
        $crate::launcher_contract!(@each $fresh;
            a_launched_task_is_found_by_its_run_and_described,
            a_task_ecs_does_not_know_is_left_out_of_a_description,
            a_stopped_task_ends_with_the_reason_given_and_is_still_found,
            a_task_definition_names_its_essential_containers
        );
    };
    (@each $fresh:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (launcher, spec, settle) = $fresh;
                $crate::testing::contract::tests::launcher::$name(launcher, spec, settle).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per scaler contract, each on the fresh `ScalerWorld` that `$fresh` evaluates to.
#[macro_export]
macro_rules! scaler_contract {
    ($fresh:expr) => {
        $crate::scaler_contract!(@each $fresh;
            a_services_scale_and_bounds_are_read_set_and_restored,
            a_service_without_a_scalable_target_has_no_bounds,
            an_unknown_service_is_not_found,
            a_rules_forward_action_is_pointed_at_a_group_and_back
        );
    };
    (@each $fresh:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::testing::contract::tests::scaler::$name($fresh).await;
            }
        )*
    };
}
