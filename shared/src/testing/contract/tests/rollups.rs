//! The rollups' contract (domain::rollup): a day's rollup is stored over the generation its reader saw, and the run
//! writes that land late into a day (a claim, a correction) reopen it in the same write, or not at all when they
//! fail. Run by `store_contract!` with the store's other contracts.

use chrono::{Duration, NaiveDate};

use super::store::at;
use crate::domain::job::JobName;
use crate::domain::rollup::{DayTally, Rollup};
use crate::domain::run::{Run, RunId, RunStatus, Trigger};
use crate::ports::{Claim, Store, StoreError};

fn closed(
    job: &JobName,
    scheduled: chrono::DateTime<chrono::Utc>,
    claimed: chrono::DateTime<chrono::Utc>,
) -> Run {
    let mut run = Run::claimed(
        RunId::scheduled(job, scheduled),
        Trigger::Schedule,
        scheduled,
        claimed,
    );
    run.status = RunStatus::Succeeded;
    run
}

async fn stored<S: Store>(store: &S, day: NaiveDate) -> Vec<Rollup> {
    let around = Duration::days(1);
    store.rollups(day - around, day + around).await.unwrap()
}

pub async fn a_days_rollup_is_kept_over_the_generation_read_and_reopened_by_late_run_writes<
    S: Store,
>(
    store: S,
) {
    let etl = JobName::new("etl").unwrap();
    let early = at(2, 0) - Duration::days(10);
    let day = early.date_naive();
    let on_time = closed(&etl, early, early);
    assert_eq!(store.claim_run(&on_time).await.unwrap(), Claim::Won);
    assert!(
        stored(&store, day).await.is_empty(),
        "a claim on time writes no rollup"
    );

    let first = DayTally::of(day, std::slice::from_ref(&on_time));
    store.put_rollup(&first, 0).await.unwrap();
    assert_eq!(
        stored(&store, day).await,
        vec![Rollup {
            day,
            generation: 0,
            tally: Some(first.clone())
        }]
    );

    // A backfill five days later claims a run into the day: the claim reopens it.
    let late = closed(&etl, early + Duration::hours(3), early + Duration::days(5));
    assert_eq!(store.claim_run(&late).await.unwrap(), Claim::Won);
    assert_eq!(
        stored(&store, day).await,
        vec![Rollup {
            day,
            generation: 1,
            tally: None
        }]
    );
    // A report that read the day before the claim cannot store what it counted.
    assert!(matches!(
        store.put_rollup(&first, 0).await,
        Err(StoreError::Conflict { .. })
    ));
    let second = DayTally::of(day, &[on_time.clone(), late.clone()]);
    store.put_rollup(&second, 1).await.unwrap();

    // A second delivery of the late claim loses, and reopens nothing.
    assert!(matches!(
        store.claim_run(&late).await.unwrap(),
        Claim::Lost(_)
    ));
    assert_eq!(
        stored(&store, day).await,
        vec![Rollup {
            day,
            generation: 1,
            tally: Some(second)
        }]
    );

    // A correction of a closed run made on the day keeps the rollup; one made days later reopens it.
    let mut corrected = on_time.clone();
    corrected.revision = 1;
    corrected.reason = Some("corrected by a later report".into());
    store
        .correct_run(&corrected, early + Duration::hours(12))
        .await
        .unwrap();
    assert_eq!(stored(&store, day).await[0].generation, 1);
    corrected.revision = 2;
    store
        .correct_run(&corrected, early + Duration::days(4))
        .await
        .unwrap();
    assert_eq!(
        stored(&store, day).await,
        vec![Rollup {
            day,
            generation: 2,
            tally: None
        }]
    );
    assert_eq!(
        store.get_run(&corrected.id).await.unwrap(),
        Some(corrected.clone())
    );

    // A correction over a revision that is not stored conflicts, and reopens nothing.
    assert!(matches!(
        store
            .correct_run(&corrected, early + Duration::days(4))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(stored(&store, day).await[0].generation, 2);

    // Other days are left alone.
    assert!(stored(&store, day - Duration::days(3)).await.is_empty());
}
