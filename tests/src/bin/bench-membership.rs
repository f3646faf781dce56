//! Benchmark of big group-membership writes (issue 13): PATCH adding 5k, 10k and 20k
//! members to a group, and the latency of `POST /Users` requests sent while the biggest
//! PATCH runs (the receiver has one SQLite writer: a big write must not hold every other
//! write back). Runs the real receiver binary (SQLite `synchronous=FULL`, relay to the
//! real RabbitMQ). It measures and prints; it asserts nothing.
//!
//! ```text
//! cargo build --release -p splashsync-receiver -p splashsync-tests --bins
//! target/release/bench-membership [--sizes 5000,10000,20000] [--connections 32]
//! ```

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use splashsync_test_support::bench::{self, arg, ms, ReceiverProcess};

const TOKEN: &str = "bench-membership-token-0123456789";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Creates `n` users over `connections` connections; returns their ids in order.
async fn create_users(
    client: &reqwest::Client,
    base: &str,
    n: usize,
    connections: usize,
    run: &str,
) -> anyhow::Result<Vec<String>> {
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = client.clone();
        let url = format!("{base}/Users");
        let run = run.to_string();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (c..n).step_by(connections) {
                let body = json!({"userName": format!("m{i}-{run}@bench.example.com"),
                                  "name": {"givenName": "Member", "familyName": format!("N{i}")},
                                  "active": true});
                let r = client
                    .post(&url)
                    .bearer_auth(TOKEN)
                    .json(&body)
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 201, "create answered {}", r.status());
                let v: Value = r.json().await?;
                ids.push((i, v["id"].as_str().unwrap_or_default().to_string()));
            }
            anyhow::Ok(ids)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort();
    Ok(all.into_iter().map(|(_, id)| id).collect())
}

async fn create_group(client: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<String> {
    let r = client
        .post(format!("{base}/Groups"))
        .bearer_auth(TOKEN)
        .json(&json!({"displayName": name}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "group create answered {}", r.status());
    let v: Value = r.json().await?;
    Ok(v["id"].as_str().unwrap_or_default().to_string())
}

/// Sends one PATCH adding `members` as Okta does; returns its status and duration.
async fn patch_add(
    client: &reqwest::Client,
    url: &str,
    members: &[String],
) -> anyhow::Result<(u16, Duration)> {
    let value: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    let body = serde_json::to_vec(&json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": value}]}))?;
    let t = Instant::now();
    let r = client
        .patch(url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let _ = r.bytes().await?;
    Ok((status, t.elapsed()))
}

/// Creates users one after another every 20 ms until `done`; each probe's latency and
/// whether it was answered before the PATCH.
async fn probe_creates(
    client: reqwest::Client,
    base: String,
    run: String,
    done: tokio::sync::watch::Receiver<bool>,
) -> Vec<(Duration, bool)> {
    let mut out = Vec::new();
    let mut i = 0;
    while !*done.borrow() {
        i += 1;
        let body = json!({"userName": format!("probe{i}-{run}@bench.example.com"), "active": true});
        let t = Instant::now();
        let r = client
            .post(format!("{base}/Users"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await;
        let ok = matches!(&r, Ok(r) if r.status() == 201);
        let before_patch = !*done.borrow();
        if ok {
            out.push((t.elapsed(), before_patch));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = arg("--sizes")
        .unwrap_or_else(|| "5000,10000,20000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let connections: usize = arg("--connections")
        .and_then(|c| c.parse().ok())
        .unwrap_or(32);
    splashsync_test_support::install_crypto();
    let dir = tempfile::tempdir()?;
    let prefix = format!("benchm-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let receiver = ReceiverProcess::spawn(
        &bench::receiver_bin()?,
        &database_url,
        &prefix,
        4,
        TOKEN,
        &[],
    )?
    .healthy()
    .await;
    let base = format!("{}/scim/v2", receiver.base());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections + 4)
        .build()?;

    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    // One spare user for the one-member PATCH to the biggest group.
    let total: usize = sizes.iter().sum::<usize>() + 1;
    let t = Instant::now();
    let users = create_users(&client, &base, total, connections, &run).await?;
    println!(
        "setup: {total} users created in {:.1} s over {connections} connections",
        t.elapsed().as_secs_f64()
    );

    println!("PATCH /Groups/{{id}} adding N members to an empty group (one request, Okta's form):");
    let mut offset = 0;
    let biggest = sizes.iter().copied().max().unwrap_or(0);
    let mut probed = false;
    for &n in &sizes {
        let members = &users[offset..offset + n];
        offset += n;
        let gid = create_group(&client, &base, &format!("bench-{n}-{run}")).await?;
        let url = format!("{base}/Groups/{gid}");
        if n != biggest || probed {
            let (status, took) = patch_add(&client, &url, members).await?;
            println!("  {n:>6} members: {status} in {:>9.1} ms", ms(took));
            continue;
        }
        probed = true;
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        let members = members.to_vec();
        let patch = {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let result = patch_add(&client, &url, &members).await;
                let _ = done_tx.send(true);
                result
            })
        };
        // The probes start once the PATCH is on its way.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let probes = tokio::spawn(probe_creates(
            client.clone(),
            base.clone(),
            run.clone(),
            done_rx,
        ));
        let (status, took) = patch.await??;
        let probes = probes.await?;
        println!("  {n:>6} members: {status} in {:>9.1} ms", ms(took));
        // Okta's everyday form against that group: one more member.
        let (status, one) = patch_add(&client, &url, &users[offset..offset + 1]).await?;
        println!(
            "  1 member more to the {n}-member group: {status} in {:.1} ms",
            ms(one)
        );
        let during: Vec<Duration> = probes
            .iter()
            .filter(|(_, before)| *before)
            .map(|(d, _)| *d)
            .collect();
        let mut sorted = during.clone();
        sorted.sort();
        println!(
            "POST /Users sent one after another (20 ms apart) while the {n}-member PATCH ran:"
        );
        println!(
            "  {} creates answered before the PATCH, {} after it",
            during.len(),
            probes.len() - during.len()
        );
        if let (Some(first), Some(max)) = (probes.first(), sorted.last()) {
            println!(
                "  first create {:.1} ms; during the PATCH: p50 {:.1} ms, max {:.1} ms",
                ms(first.0),
                ms(sorted[sorted.len() / 2]),
                ms(*max)
            );
        } else if let Some(first) = probes.first() {
            println!(
                "  first create {:.1} ms (answered after the PATCH)",
                ms(first.0)
            );
        }
    }
    drop(receiver);
    splashsync_test_support::delete_topology(&splashsync_protocol::topology::Topology::new(
        prefix, 4,
    ))
    .await;
    Ok(())
}
