//! The table name read from a deployed stack's `TableName` output (`--stack`), against the local emulator.

use std::process::Command;

use fsched_tests::{fresh_table, local_sdk_config, unique_name};

#[tokio::test]
async fn the_table_comes_from_the_stack_outputs_when_not_given() {
    let config = local_sdk_config().await.unwrap();
    let table = fresh_table(&aws_sdk_dynamodb::Client::new(&config))
        .await
        .unwrap();
    let stack = unique_name("fsched-stack");
    // A stand-in for the deployed stack: what matters here is its outputs.
    let template = format!(
        "Resources:\n  Bus:\n    Type: AWS::Events::EventBus\n    Properties:\n      Name: {stack}\n\
         Outputs:\n  TableName:\n    Value: {table}\n"
    );
    aws_sdk_cloudformation::Client::new(&config)
        .create_stack()
        .stack_name(&stack)
        .template_body(template)
        .send()
        .await
        .unwrap();

    let fsched = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fsched"))
            .args(args)
            .env_remove("FSCHED_TABLE")
            .output()
            .unwrap()
    };
    let o = fsched(&["jobs", "--stack", &stack, "--output", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let jobs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        jobs["items"],
        serde_json::json!([]),
        "the stack's (empty) table was read"
    );

    let o = fsched(&["jobs", "--stack", "no-such-stack"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("reading stack `no-such-stack`"));

    // A stack named on the command line beats a table set in the environment for another one; a table flag beats
    // both.
    let with_env = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fsched"))
            .args(args)
            .env("FSCHED_TABLE", "someone-elses-table")
            .output()
            .unwrap()
    };
    let o = with_env(&["jobs", "--stack", &stack, "-o", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let jobs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(jobs["items"], serde_json::json!([]));
    let o = with_env(&["--stack", "no-such-stack", "jobs"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the stack named is read, not ignored"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("reading stack `no-such-stack`"));
    let o = with_env(&[
        "jobs",
        "--stack",
        "no-such-stack",
        "--table",
        &table,
        "-o",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // A setting the command needs and nobody gave is how it was called: exit 2, as the README says.
    let o = fsched(&["jobs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no table given: pass --table"));
}

/// A table that is not where the settings point, or an endpoint nobody answers at, is named with its region in the
/// error, and an unreachable endpoint is said to be unreachable, not busy.
#[tokio::test]
async fn connection_errors_name_the_table_and_region_and_what_went_wrong() {
    let config = local_sdk_config().await.unwrap();
    let table = fresh_table(&aws_sdk_dynamodb::Client::new(&config))
        .await
        .unwrap();
    let fsched = |args: &[&str], envs: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fsched"));
        c.args(args).env("FSCHED_TABLE", &table);
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let o = fsched(&["jobs", "--region", "eu-north-1"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "in table `{table}`, region eu-north-1: ResourceNotFoundException"
        )),
        "{err}"
    );
    let o = fsched(&["jobs"], &[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot reach DynamoDB"), "{err}");
    assert!(
        err.contains("Connection refused") && !err.contains("busy"),
        "{err}"
    );
}

/// `--profile` names the credentials to use (over keys in the environment: the emulator accepts any keys, so that
/// is not observable here); a profile that does not exist is an error naming it (exit 2), not the environment's keys
/// used silently.
#[tokio::test]
async fn a_named_profile_is_read_and_a_missing_one_is_an_error() {
    let config = local_sdk_config().await.unwrap();
    let table = fresh_table(&aws_sdk_dynamodb::Client::new(&config))
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(unique_name("aws-profiles"));
    std::fs::create_dir_all(&dir).unwrap();
    let region = config.region().unwrap().to_string();
    std::fs::write(
        dir.join("config"),
        format!("[profile ci]\nregion = {region}\naws_access_key_id = ci-key\naws_secret_access_key = ci-secret\n"),
    )
    .unwrap();
    let fsched = |profile: &str| {
        Command::new(env!("CARGO_BIN_EXE_fsched"))
            .args(["jobs", "--profile", profile, "-o", "json"])
            .env("FSCHED_TABLE", &table)
            .env("AWS_CONFIG_FILE", dir.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
            .output()
            .unwrap()
    };
    let o = fsched("ci");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = fsched("nope");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--profile `nope`: no credentials from it"),
        "{err}"
    );
}
