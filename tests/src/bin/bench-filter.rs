//! Latency and receiver memory of list filters and sorts as the directory grows: the real
//! receiver binary on a directory seeded straight into its database with N users, then
//! `GET /Users` with `name.givenName eq`, `emails.value co "999"`, `sortBy=userName` and
//! `userName eq`, each several times. Prints the median and worst latency of each and
//! the receiver's RSS before and after. It measures; it asserts nothing.
//!
//! ```text
//! cargo build --release -p splashsync-receiver -p splashsync-tests --bin splashsync-receiver --bin bench-filter
//! target/release/bench-filter --engine sqlite --users 10000,100000 [--repeat 5]
//! target/release/bench-filter --engine postgres --users 10000,100000,1000000
//! ```
//! (PostgreSQL at `SPLASHSYNC_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432`,
//! in a fresh database dropped afterwards; RabbitMQ as for the tests, its queues deleted.)

use std::time::Instant;

use serde_json::json;
use splashsync_test_support::bench::{self, arg, ReceiverProcess};
use splashsync_test_support::PgDatabase;
use sqlx::Connection;

const TOKEN: &str = "bench-filter-token-0123456789";
/// Users inserted per statement while seeding.
const BATCH: usize = 500;

/// Starts the receiver on the bench's database and waits until it answers.
async fn spawn_receiver(database_url: &str, prefix: &str) -> anyhow::Result<ReceiverProcess> {
    let bin = bench::receiver_bin()?;
    Ok(
        ReceiverProcess::spawn(&bin, database_url, prefix, 2, TOKEN, &[])?
            .healthy()
            .await,
    )
}

/// A `/proc/<pid>/status` field in MiB.
fn status_mib(pid: u32, field: &str) -> u64 {
    bench::status_kib(pid, field) / 1024
}

/// One seeded user: (id, userName, externalId, displayName, body).
fn person(i: usize) -> (String, String, String, String, String) {
    let name = format!("user{i:07}@bench.example.com");
    let display = format!("Given{i} Family{}", i % 1000);
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name, "externalId": format!("ext-{i}"), "displayName": display,
        "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{}", i % 1000)},
        "emails": [{"value": format!("u{i}@mail.example.com"), "type": "work", "primary": true}],
        "active": !i.is_multiple_of(10),
    });
    (
        uuid::Uuid::new_v4().to_string(),
        name,
        format!("ext-{i}"),
        display,
        body.to_string(),
    )
}

fn insert_sql(rows: usize, postgres: bool) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let n = |k: usize| if postgres { format!("${}", r * 6 + k) } else { "?".into() };
            let resource = if postgres { format!("{}::jsonb", n(6)) } else { n(6) };
            format!(
                "({}, {}, lower({}), {}, {}, {resource}, 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                n(1), n(2), n(3), n(4), n(5)
            )
        })
        .collect();
    format!(
        "INSERT INTO users (id, user_name, user_name_key, external_id, display_name, resource, \
         version, created, last_modified) VALUES {}",
        values.join(", ")
    )
}

/// Inserts `from..to` users straight into the database (the receiver is stopped).
async fn seed(database_url: &str, postgres: bool, from: usize, to: usize) -> anyhow::Result<()> {
    macro_rules! run {
        ($conn:expr) => {{
            let mut conn = $conn;
            let mut i = from;
            while i < to {
                let n = BATCH.min(to - i);
                let sql = insert_sql(n, postgres);
                let mut q = sqlx::query(&sql);
                for k in i..i + n {
                    let (id, name, ext, display, body) = person(k);
                    q = q
                        .bind(id)
                        .bind(name.clone())
                        .bind(name)
                        .bind(ext)
                        .bind(display)
                        .bind(body);
                }
                q.execute(&mut conn).await?;
                i += n;
            }
            conn.close().await?;
        }};
    }
    if postgres {
        run!(sqlx::PgConnection::connect(database_url).await?)
    } else {
        run!(sqlx::SqliteConnection::connect(database_url).await?)
    }
    Ok(())
}

async fn measure(client: &reqwest::Client, base: &str, query: &str, repeat: usize) -> String {
    let url = format!("{base}/scim/v2/Users?{query}");
    let mut times = Vec::new();
    let mut status = String::new();
    for _ in 0..repeat {
        let t = Instant::now();
        let r = client.get(&url).bearer_auth(TOKEN).send().await;
        let answer = match r {
            Ok(r) => {
                let code = r.status().as_u16();
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                match body["totalResults"].as_u64() {
                    Some(total) => format!("{code}, totalResults {total}"),
                    None => format!("{code} {}", body["scimType"].as_str().unwrap_or("")),
                }
            }
            Err(e) => format!("error {e}"),
        };
        times.push(t.elapsed());
        status = answer;
    }
    times.sort();
    format!(
        "p50 {:>8.2} ms  max {:>8.2} ms  ({status})",
        bench::ms(bench::percentile(&times, 0.5)),
        bench::ms(bench::percentile(&times, 1.0))
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let engine = arg("--engine").unwrap_or_else(|| "sqlite".into());
    let repeat: usize = arg("--repeat")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let sizes: Vec<usize> = arg("--users")
        .unwrap_or_else(|| "10000,100000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    splashsync_test_support::install_crypto();
    let postgres = match engine.as_str() {
        "sqlite" => false,
        "postgres" => true,
        other => anyhow::bail!("--engine {other}: use sqlite or postgres"),
    };
    let dir = tempfile::tempdir()?;
    let pg = if postgres {
        Some(PgDatabase::create().await)
    } else {
        None
    };
    let database_url = match &pg {
        Some(db) => db.url(),
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let prefix = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let client = reqwest::Client::new();
    // A first start creates the schema; the directory then grows between runs.
    drop(spawn_receiver(&database_url, &prefix).await?);
    let mut seeded = 0;
    for size in sizes {
        let t = Instant::now();
        seed(&database_url, postgres, seeded, size.max(seeded)).await?;
        seeded = size.max(seeded);
        let seeding = t.elapsed().as_secs_f64();
        let receiver = spawn_receiver(&database_url, &prefix).await?;
        let (base, pid) = (receiver.base(), receiver.pid());
        let idle = status_mib(pid, "VmRSS:");
        let probe = seeded / 2;
        println!(
            "{engine}, {seeded} users (seeded in {seeding:.1} s), receiver RSS at start {idle} MiB"
        );
        for (label, query) in [
            (
                "name.givenName eq",
                format!("filter=name.givenName%20eq%20%22Given{probe}%22"),
            ),
            (
                "emails.value co \"999\"",
                "filter=emails.value%20co%20%22999%22".to_string(),
            ),
            ("sortBy=userName", "sortBy=userName&count=100".to_string()),
            (
                "userName eq",
                format!("filter=userName%20eq%20%22user{probe:07}%40bench.example.com%22"),
            ),
        ] {
            let line = measure(&client, &base, &query, repeat).await;
            println!("  {label:<22} {line}");
        }
        println!(
            "  receiver RSS after    {} MiB (peak {} MiB)",
            status_mib(pid, "VmRSS:"),
            status_mib(pid, "VmHWM:")
        );
        drop(receiver);
    }
    splashsync_test_support::delete_topology(&splashsync_protocol::topology::Topology::new(
        prefix, 2,
    ))
    .await;
    drop(pg);
    Ok(())
}
