//! A cluster of in-process workers for worker tests: the simulator, N workers on one
//! topology (own AMQP prefix, own Redis prefix), a publisher that sends jobs straight
//! to the partition queues, and ways to stop a worker gracefully or kill it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use secrecy::SecretString;
use splashsync_protocol::job::{GroupJob, GroupRef, GroupState, Job, JobMeta, UserJob, UserState};
use splashsync_protocol::topology::Topology;
use splashsync_protocol::{JobKey, Tenant};
use splashsync_worker::config::DeactivateMode;
use splashsync_worker::consumer::Worker;
use splashsync_worker::splashtop::HttpTeamApi;
use splashsync_worker::store::Store;
use splashtop_sim::{SimConfig, SimHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::amqp_url;

/// How a test worker is set up.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Team rate limit in calls per minute (0: unlimited).
    pub rate_limit_per_minute: u32,
    /// Retry budget per job.
    pub retry_budget: Duration,
    /// Deactivation mode.
    pub mode: DeactivateMode,
    /// Where to serve `/healthz`, `/readyz` and `/metrics` (`None`: nowhere).
    pub listen: Option<SocketAddr>,
    /// The broker this worker uses instead of the test broker (a wrong one simulates an outage).
    pub amqp_url: Option<String>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            rate_limit_per_minute: 0,
            retry_budget: Duration::from_secs(60),
            mode: DeactivateMode::Remove,
            listen: None,
            amqp_url: None,
        }
    }
}

/// A running worker.
#[derive(Debug)]
struct RunningWorker {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
    addr: Option<SocketAddr>,
}

/// The simulator and a set of workers sharing one topology.
#[derive(Debug)]
pub struct Cluster {
    /// The simulator.
    pub sim: SimHandle,
    /// The topology (unique prefix).
    pub topology: Topology,
    /// The shared store the workers use (for cleanup and inspection).
    pub store: Store,
    workers: Vec<Option<RunningWorker>>,
    conn: Connection,
    publisher: Channel,
}

impl Cluster {
    /// Starts the simulator and declares a fresh topology of `partitions` partitions.
    pub async fn new(sim: SimConfig, partitions: u16) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let prefix = format!("tw-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let topology = Topology::new(prefix.clone(), partitions);
        let sim = splashtop_sim::spawn(sim).await.expect("simulator starts");
        let conn = splashsync_protocol::amqp::connect(&amqp_url(), "splashsync-test-publisher")
            .await
            .expect("broker reachable");
        let publisher = conn.create_channel().await.expect("channel");
        topology.declare(&publisher).await.expect("topology");
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        let store = Store::new("redis://127.0.0.1:6379", &prefix).expect("redis url");
        Self {
            sim,
            topology,
            store,
            workers: Vec::new(),
            conn,
            publisher,
        }
    }

    /// Starts one more worker; returns its index.
    pub async fn start_worker(&mut self, options: WorkerOptions) -> usize {
        let api = HttpTeamApi::new(
            &self.sim.base_url(),
            self.sim.team_id(),
            SecretString::from(self.sim.token().to_string()),
            Duration::from_secs(5),
        )
        .expect("client builds");
        let mut worker = Worker::new(
            Arc::new(api),
            self.topology.clone(),
            options.amqp_url.unwrap_or_else(amqp_url),
            options.mode,
        )
        .with_retry_budget(options.retry_budget)
        .with_rate_limit(options.rate_limit_per_minute)
        .with_heartbeat(Duration::from_millis(500));
        if let Some(listen) = options.listen {
            worker = worker.with_listen(listen);
        }
        let worker = worker.bind().await.expect("worker listener binds");
        let addr = worker.addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        self.workers.push(Some(RunningWorker { stop, task, addr }));
        self.workers.len() - 1
    }

    /// `http://<addr>` of worker `i`'s health and metrics listener, if it has one.
    pub fn worker_url(&self, i: usize) -> Option<String> {
        let addr = self.workers.get(i)?.as_ref()?.addr?;
        Some(format!("http://{addr}"))
    }

    /// SIGTERM: the worker finishes its in-flight jobs, acks them and closes.
    pub async fn stop_worker(&mut self, i: usize) {
        if let Some(w) = self.workers.get_mut(i).and_then(Option::take) {
            let _ = w.stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(60), w.task).await;
        }
    }

    /// `kill -9`: the worker's task is aborted mid-job; nothing is acked any more, its
    /// connection drops (RabbitMQ requeues its unacked jobs) and its heartbeat lapses.
    pub async fn kill_worker(&mut self, i: usize) {
        if let Some(w) = self.workers.get_mut(i).and_then(Option::take) {
            w.task.abort();
            let _ = w.task.await;
        }
    }

    /// Publishes `job` to its partition with a confirm, as the receiver's relay does.
    pub async fn publish(&self, job: &Job) {
        let meta = job.meta();
        let p = self.topology.partition_of(&job.route());
        let body = serde_json::to_vec(job).expect("job serialises");
        let confirm = self
            .publisher
            .basic_publish(
                self.topology.jobs_exchange().as_str().into(),
                self.topology.routing_key(p).as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &body,
                BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_message_id(meta.job_id.as_str().into())
                    .with_content_type("application/json".into()),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        assert!(confirm.is_ack(), "broker refused a job");
    }

    /// Takes every message out of the dead-letter queue: (headers, job) pairs.
    pub async fn dead_letters(&self) -> Vec<(FieldTable, Job)> {
        let channel = self.conn.create_channel().await.expect("channel");
        let mut out = Vec::new();
        while let Some(msg) = channel
            .basic_get(
                self.topology.dead_letter_queue().as_str().into(),
                BasicGetOptions::default(),
            )
            .await
            .expect("basic_get")
        {
            let headers = msg.properties.headers().clone().unwrap_or_default();
            let job: Job = serde_json::from_slice(&msg.data).expect("a job");
            msg.ack(BasicAckOptions::default()).await.expect("ack");
            out.push((headers, job));
        }
        let _ = channel.close(200, "done".into()).await;
        out
    }

    /// Polls `done` on the simulator's state until it holds or `timeout` passes; returns
    /// the last state either way.
    pub async fn wait_for_sim(
        &self,
        timeout: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.sim.snapshot();
            if done(&state) || Instant::now() > deadline {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every worker, deletes the queues, exchanges and Redis keys.
    pub async fn shutdown(mut self) {
        for i in 0..self.workers.len() {
            self.stop_worker(i).await;
        }
        crate::delete_topology(&self.topology).await;
        let _ = self.store.delete_all().await;
        let _ = self.conn.close(200, "done".into()).await;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A panicking test never reached `shutdown`: still leave nothing behind.
        if self.workers.iter().any(Option::is_some) {
            for w in self.workers.iter_mut().filter_map(Option::take) {
                w.task.abort();
            }
            let (topology, store) = (self.topology.clone(), self.store.clone());
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(async {
                        crate::delete_topology(&topology).await;
                        let _ = store.delete_all().await;
                    });
                }
            })
            .join();
        }
    }
}

fn meta(key: JobKey, version: i64) -> JobMeta {
    JobMeta {
        job_id: uuid::Uuid::now_v7().to_string(),
        tenant: "default".into(),
        key,
        version,
        created_at: "2026-01-01T00:00:00Z".into(),
        origin: "test".into(),
    }
}

/// A user job for `u{n}@example.com` at `version`.
pub fn user_job(n: usize, version: i64, state: UserSpec) -> Job {
    let id = format!("u{n}");
    let email = format!("u{n}@example.com");
    Job::UserV1(UserJob {
        meta: meta(JobKey::user(&Tenant::default(), &id), version),
        state: UserState {
            user_id: id,
            user_name: email.clone(),
            email,
            first_name: state.first_name.clone(),
            last_name: "Test".into(),
            display_name: format!("{} Test", state.first_name),
            active: state.active,
            group: state.group.map(|(gid, name)| GroupRef {
                group_id: gid,
                display_name: name,
            }),
            sso_name: state.sso_name,
            deleted: false,
        },
    })
}

/// The parts of a user's desired state tests vary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSpec {
    /// First name.
    pub first_name: String,
    /// Whether the user is active.
    pub active: bool,
    /// (group id, group display name).
    pub group: Option<(String, String)>,
    /// SSO method.
    pub sso_name: Option<String>,
}

/// A group job for group `gid` at `version`.
pub fn group_job(gid: &str, version: i64, name: &str, former: Vec<String>, deleted: bool) -> Job {
    Job::GroupV1(GroupJob {
        meta: meta(JobKey::group(&Tenant::default(), gid), version),
        state: GroupState {
            group_id: gid.into(),
            display_name: name.into(),
            former_names: former,
            deleted,
        },
    })
}

/// For each user key, whether the versions in the simulator's log never decrease.
pub fn versions_never_decrease(log: &[splashtop_sim::LogEntry]) -> Result<(), String> {
    let mut last: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for e in log {
        if let (Some(key), Some(v)) = (e.key.as_deref(), e.version) {
            if !key.contains("/user/") {
                continue;
            }
            let prev = last.entry(key).or_insert(v);
            if v < *prev {
                return Err(format!(
                    "{key}: version {v} applied after {prev} (seq {})",
                    e.seq
                ));
            }
            *prev = v;
        }
    }
    Ok(())
}
