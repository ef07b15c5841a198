//! What a user sees when ClickHouse is not as expected: each error names what failed (query
//! file, table, column, URL) and never shows the password. Driven through the real binary
//! against the real engine behind the ClickHouse HTTP interface.

mod support;

use std::process::{Command, Output};

use support::{forewarn_bin, server, TestServer};

fn forewarn(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(forewarn_bin());
    command.args(args).env("RUST_LOG", "error");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("running forewarn")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

async fn database_with_schema(generation: &str) -> (String, String) {
    let config = server().fresh_database().await;
    let database = config.database.clone().unwrap();
    let out = forewarn(
        &[
            "schema",
            "--apply",
            "--generation",
            generation,
            "--clickhouse-url",
            &server().url(),
            "--clickhouse-database",
            &database,
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "schema --apply failed: {}",
        stderr(&out)
    );
    (server().url(), database)
}

#[test]
fn an_unreachable_server_is_named_with_its_url_and_exit_code_1() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = forewarn(&["query", "memory", "--clickhouse-url", &url], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot reach ClickHouse at {url}")),
        "{err}"
    );
}

#[test]
fn a_wrong_password_says_authentication_failed_and_never_shows_the_password() {
    let secured = TestServer::start(Some("right-horse-battery"));
    let secret = "staple-wrong-secret";
    let out = forewarn(
        &["query", "memory", "--clickhouse-url", &secured.url()],
        &[
            ("FOREWARN_CLICKHOUSE_PASSWORD", secret),
            ("RUST_LOG", "trace"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("rejected user `default`: authentication failed"),
        "{err}"
    );
    assert!(!err.contains(secret), "the password leaked: {err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    // The right password works.
    let out = forewarn(
        &["check", "--connect", "--clickhouse-url", &secured.url()],
        &[("FOREWARN_CLICKHOUSE_PASSWORD", "right-horse-battery")],
    );
    // No tables yet: the check reports them missing, but it got past authentication.
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_table_names_the_query_file_and_the_table() {
    let config = server().fresh_database().await;
    let database = config.database.unwrap();
    let out = forewarn(
        &[
            "query",
            "errors",
            "--clickhouse-url",
            &server().url(),
            "--clickhouse-database",
            &database,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("queries/errors.sql"), "{err}");
    assert!(
        err.contains(&format!("table {database}.otel_logs does not exist")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_column_and_a_wrong_type_are_named() {
    let (url, database) = database_with_schema("g2").await;
    let admin = forewarn::source::ClickHouseConfig {
        database: Some(database.clone()),
        ..forewarn::source::ClickHouseConfig::new(url.clone())
    }
    .writable_client();
    admin
        .query_raw("ALTER TABLE otel_logs DROP COLUMN SeverityNumber")
        .execute()
        .await
        .unwrap();
    let out = forewarn(
        &[
            "query",
            "errors",
            "--clickhouse-url",
            &url,
            "--clickhouse-database",
            &database,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("queries/errors.sql"), "{err}");
    assert!(
        err.contains("otel_logs has no column `SeverityNumber`"),
        "{err}"
    );

    admin
        .query_raw("ALTER TABLE otel_metrics_gauge MODIFY COLUMN Value String")
        .execute()
        .await
        .unwrap();
    let out = forewarn(
        &[
            "query",
            "memory",
            "--clickhouse-url",
            &url,
            "--clickhouse-database",
            &database,
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("column `Value`"), "{err}");
    assert!(err.contains("has type String, expected Float64"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_timeout_names_the_query_and_the_limit() {
    let (url, database) = database_with_schema("g2").await;
    let dir = tempfile::tempdir().unwrap();
    // An override query that is slow on purpose (one row per block, 0.4 s per row).
    std::fs::write(
        dir.path().join("memory.sql"),
        "SELECT sleepEachRow(0.4) AS s FROM numbers(20) SETTINGS max_block_size = 1",
    )
    .unwrap();
    let out = forewarn(
        &[
            "query",
            "memory",
            "--clickhouse-url",
            &url,
            "--clickhouse-database",
            &database,
            "--queries",
            dir.path().to_str().unwrap(),
            "--query-timeout",
            "1s",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("memory.sql"), "{err}");
    assert!(err.contains("timed out after 1 s"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_read_path_cannot_write() {
    let (url, database) = database_with_schema("g2").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("memory.sql"), "DROP TABLE otel_logs").unwrap();
    let out = forewarn(
        &[
            "query",
            "memory",
            "--clickhouse-url",
            &url,
            "--clickhouse-database",
            &database,
            "--queries",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("readonly"), "{}", stderr(&out));
    let out = forewarn(
        &[
            "check",
            "--connect",
            "--clickhouse-url",
            &url,
            "--clickhouse-database",
            &database,
        ],
        &[],
    );
    assert!(out.status.success(), "the table survived: {}", stderr(&out));
}

#[test]
fn json_mode_tables_are_refused_clearly() {
    let tables = forewarn::source::introspect::TableColumns {
        table: "otel_logs".into(),
        columns: [
            ("Timestamp", "DateTime64(9)"),
            ("ResourceAttributes", "JSON"),
            ("LogAttributes", "JSON"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect(),
    };
    let problem = tables
        .classify(forewarn::source::introspect::TableRole::Logs)
        .unwrap_err();
    assert!(matches!(
        problem,
        forewarn::source::introspect::SchemaProblem::JsonMode { .. }
    ));
}
