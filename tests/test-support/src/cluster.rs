//! A cluster of in-process workers for worker tests: the simulator, N workers on one
//! topology (own AMQP prefix, own Redis prefix), a publisher that sends jobs straight to the
//! partition queues, and ways to stop a worker gracefully or kill it.

use splashsync_protocol::job::Job;
use splashsync_protocol::topology::Topology;
use splashsync_protocol::DeadLetterHeaders;
use splashsync_worker::store::Store;
use splashtop_sim::{SimConfig, SimHandle};

use crate::broker::{delete_topology, Publisher};
use crate::env::{install_crypto, redis_url};
use crate::jobs::{account_job, email_in_partition, UserSpec};
use crate::workers::{RunningWorker, WorkerOptions};

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
    publisher: Publisher,
}

impl Cluster {
    /// Starts the simulator and declares a fresh topology of `partitions` partitions.
    pub async fn new(sim: SimConfig, partitions: u16) -> Self {
        let prefix = format!("tw-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        Self::on(sim, Topology::new(prefix, partitions)).await
    }

    /// [`Cluster::new`] with partition queues that dead-letter a job delivered more than
    /// `limit` times.
    pub async fn with_delivery_limit(sim: SimConfig, partitions: u16, limit: i64) -> Self {
        let prefix = format!("tw-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let topology = Topology::new(prefix, partitions).with_delivery_limit(limit);
        Self::on(sim, topology).await
    }

    /// Starts the simulator and declares `topology`.
    async fn on(sim: SimConfig, topology: Topology) -> Self {
        install_crypto();
        let prefix = topology.prefix().to_string();
        let sim = splashtop_sim::spawn(sim).await.expect("simulator starts");
        let publisher = Publisher::connect(&topology, "splashsync-test-publisher").await;
        let store = Store::new(&redis_url(), &prefix).expect("redis url");
        Self {
            sim,
            topology,
            store,
            workers: Vec::new(),
            publisher,
        }
    }

    /// Starts one more worker; returns its index.
    pub async fn start_worker(&mut self, options: WorkerOptions) -> usize {
        let worker = RunningWorker::start(&self.sim, &self.topology, options).await;
        self.workers.push(Some(worker));
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
            w.stop().await;
        }
    }

    /// `kill -9`: the worker's task is aborted mid-job; nothing is acked any more, its
    /// connection drops (RabbitMQ requeues its unacked jobs) and its heartbeat lapses.
    pub async fn kill_worker(&mut self, i: usize) {
        if let Some(w) = self.workers.get_mut(i).and_then(Option::take) {
            w.kill().await;
        }
    }

    /// Publishes `job` to its partition with a confirm, as the receiver's relay does.
    pub async fn publish(&self, job: &Job) {
        self.publisher.publish(job).await;
    }

    /// Publishes one marker user (`{stem}-…@example.com`, first name `Marker`) to every
    /// partition, behind everything published so far; returns their emails. Once the
    /// simulator holds them all, every job before them has been handled.
    pub async fn publish_markers(&self, stem: &str) -> Vec<String> {
        let mut emails = Vec::new();
        for p in 0..self.topology.partitions() {
            let email = email_in_partition(&self.topology, p, stem);
            let id = format!("{stem}-p{p}");
            let job = account_job(&id, &email, 1, UserSpec::active("Marker"));
            self.publish(&job).await;
            emails.push(email);
        }
        emails
    }

    /// Takes every message out of the dead-letter queue: (decoded headers, job) pairs.
    pub async fn dead_letters(&self) -> Vec<(DeadLetterHeaders, Job)> {
        self.publisher
            .drain_dead_letters()
            .await
            .into_iter()
            .map(|(headers, body)| {
                let job = serde_json::from_slice(&body).expect("a job");
                (DeadLetterHeaders::decode(&headers), job)
            })
            .collect()
    }

    /// How many dead letters wait in the dead-letter queue (none is taken).
    pub async fn dead_letter_count(&self) -> u32 {
        self.publisher.dead_letter_count().await
    }

    /// Stops every worker, deletes the queues, exchanges and Redis keys.
    pub async fn shutdown(mut self) {
        for i in 0..self.workers.len() {
            self.stop_worker(i).await;
        }
        delete_topology(&self.topology).await;
        let _ = self.store.delete_all().await;
        self.publisher.close().await;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A panicking test never reached `shutdown`: still leave nothing behind.
        if self.workers.iter().any(Option::is_some) {
            for w in self.workers.iter().flatten() {
                w.abort();
            }
            let (topology, store) = (self.topology.clone(), self.store.clone());
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(async {
                        delete_topology(&topology).await;
                        let _ = store.delete_all().await;
                    });
                }
            })
            .join();
        }
    }
}
