//! Creates a table from template.yaml's definition in the local emulator and prints its name: for trying the CLI
//! locally (README) and for the demo. Refuses to run against anything but a local endpoint.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = fsched_tests::local_sdk_config().await?;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let name = fsched_tests::fresh_table(&client).await?;
    println!("{name}");
    Ok(())
}
