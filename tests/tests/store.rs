//! The DynamoDB store against the local emulator, on a table created from template.yaml's definition: the store's
//! contract (`fsched_core::testing::contract`, which the in-memory store passes too), and what only DynamoDB has
//! (item formats).

use fsched_core::aws::dynamo::DynamoStore;
use fsched_core::domain::run::{Run, RunId, RunStatus, Trigger};
use fsched_core::ports::{JobStore, RunStore, StoreError, Timers};
use fsched_core::testing::contract::tests::store::{at, job};
use fsched_tests::{fresh_table, local_sdk_config};

async fn store() -> DynamoStore {
    let config = local_sdk_config().await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = fresh_table(&client).await.unwrap();
    DynamoStore::new(client, table)
}

// The store's contract (shared with the in-memory store), against DynamoDB on the emulator.
fsched_core::store_contract!(store().await);

/// Upgrade safety. Every item carries its format (`schema`); items written before formats were numbered (no
/// `schema`, no run `outbox`) read as they always did, and an item of a newer format is refused, naming the fix,
/// rather than read half-understood and written back with fields lost.
#[tokio::test]
async fn items_of_the_previous_format_read_and_a_newer_format_is_refused() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let config = local_sdk_config().await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = fresh_table(&client).await.unwrap();
    let store = DynamoStore::new(client.clone(), table.clone());
    let etl = job("etl", Some(at(2, 0)));
    store.put_job(&etl, None).await.unwrap();
    let mut run = Run::claimed(
        RunId::scheduled(&etl.name, at(2, 0)),
        Trigger::Schedule,
        at(2, 0),
        at(2, 0),
    );
    store.claim_run(&run).await.unwrap();
    run.status = RunStatus::Succeeded;
    run.revision = 1;
    store.update_run(&run).await.unwrap();

    let items = client.scan().table_name(&table).send().await.unwrap();
    assert_eq!(items.items().len(), 2);
    for item in items.items() {
        assert_eq!(
            item.get("schema"),
            Some(&AttributeValue::N("2".into())),
            "{item:?}"
        );
        // The same item as the previous format wrote it.
        let mut previous = item.clone();
        previous.remove("schema");
        previous.remove("outbox");
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(previous))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(store.get_job(&etl.name).await.unwrap(), Some(etl.clone()));
    assert_eq!(store.get_run(&run.id).await.unwrap(), Some(run.clone()));
    assert_eq!(
        store.due(at(2, 0)).await.unwrap().len(),
        1,
        "the job's timer"
    );

    // A newer fsched's job: refused with what to do, for a single read and in a listing.
    let mut newer = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("JOB#etl".into()))
        .key("sk", AttributeValue::S("JOB".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    newer.insert("schema".into(), AttributeValue::N("3".into()));
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(newer))
        .send()
        .await
        .unwrap();
    for err in [
        store.get_job(&etl.name).await.unwrap_err(),
        store.list_jobs().await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, StoreError::Corrupt { message, .. } if message.contains("upgrade fsched")),
            "{err}"
        );
    }
}

/// A report over settled days, twice: the first reads the runs and writes a rollup per day (priced runs' dollars
/// and all), the second reads the rollups and gives the same figures.
#[tokio::test]
async fn a_report_writes_the_settled_days_rollups_and_reads_them_back_the_same() {
    use chrono::Duration;
    use fsched_core::ports::RollupStore;
    use fsched_core::service::report::day_tallies;
    use fsched_core::testing::contract::cost;

    let store = store().await;
    let etl = job("etl", None).name;
    for days_ago in 1..=3 {
        for hour in [1, 7] {
            let t = at(hour, 0) - Duration::days(days_ago);
            let mut run = Run::claimed(RunId::scheduled(&etl, t), Trigger::Schedule, t, t);
            run.status = RunStatus::Succeeded;
            run.cost = Some(cost(0.0013, 380));
            store.claim_run(&run).await.unwrap();
        }
    }
    let (from, to) = (at(0, 0) - Duration::days(3), at(0, 0));
    let now = at(0, 0) + Duration::days(5);
    let first = day_tallies(&store, from, to, now).await.unwrap().days;
    let stored = store
        .rollups(from.date_naive(), to.date_naive())
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored
        .iter()
        .all(|r| r.tally.is_some() && r.generation == 0));
    let second = day_tallies(&store, from, to, now).await.unwrap().days;
    assert_eq!(second, first);
    assert_eq!(first.iter().map(|d| d.jobs["etl"].runs).sum::<u64>(), 6);
    assert_eq!(
        first
            .iter()
            .map(|d| d.jobs["etl"].billed_seconds)
            .sum::<u64>(),
        6 * 380
    );
}
