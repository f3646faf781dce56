//! One consumer per partition queue: jobs of a partition are applied one at a time, in
//! order, and acked only after Splashtop answered.
//!
//! Every partition queue has single active consumer on, so across all worker processes
//! exactly one consumer receives a partition's jobs; the others stand by.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, BasicRejectOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Connection};
use splashsync_shared::job::Job;
use splashsync_shared::topology::Topology;
use tokio::sync::watch;

use crate::apply::{apply_group, apply_user};
use crate::config::{DeactivateMode, Settings};
use crate::splashtop::{ApiError, CallContext, HttpTeamApi, TeamApi};

/// How long transient failures of one job are retried in place before the job is
/// dead-lettered (well under RabbitMQ's 30-minute consumer timeout).
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(300);

/// A worker: the API client and the topology it consumes.
#[derive(Clone)]
pub struct Worker {
    api: Arc<dyn TeamApi>,
    topology: Topology,
    amqp_url: String,
    mode: DeactivateMode,
    retry_budget: Duration,
    name: String,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("topology", &self.topology)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker from validated settings.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let api = HttpTeamApi::new(
            &settings.splashtop_api_url,
            &settings.splashtop_team_id,
            settings.splashtop_api_token.clone(),
            Duration::from_secs(settings.api_timeout_secs),
        )?;
        Ok(Self::new(
            Arc::new(api),
            Topology::new(settings.amqp_prefix.clone(), settings.partitions),
            settings.amqp_url.clone(),
            settings.deactivate_mode,
        ))
    }

    /// A worker over any [`TeamApi`].
    pub fn new(
        api: Arc<dyn TeamApi>,
        topology: Topology,
        amqp_url: String,
        mode: DeactivateMode,
    ) -> Self {
        Self {
            api,
            topology,
            amqp_url,
            mode,
            retry_budget: DEFAULT_RETRY_BUDGET,
            name: format!("splashsync-worker-{}", std::process::id()),
        }
    }

    /// Overrides the retry budget.
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget = budget;
        self
    }

    /// Consumes every partition until `shutdown` resolves, reconnecting when the broker
    /// goes away. On shutdown the in-flight jobs finish and are acked first.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let Some(conn) = splashsync_shared::amqp::connect_with_retry(
                &self.amqp_url,
                &self.name,
                &mut shutdown,
            )
            .await
            else {
                return Ok(());
            };
            let (stop_tx, stop_rx) = watch::channel(false);
            let session = self.session(&conn, stop_rx);
            let mut session = std::pin::pin!(session);
            let stopping = tokio::select! {
                r = &mut session => {
                    if let Err(e) = r { tracing::warn!(error = %e, "lost RabbitMQ; reconnecting"); }
                    false
                }
                () = &mut shutdown => true,
            };
            if stopping {
                let _ = stop_tx.send(true);
                let _ = session.await;
                let _ = conn.close(200, "worker shutting down".into()).await;
                tracing::info!("worker stopped");
                return Ok(());
            }
            let _ = conn.close(200, "worker reconnecting".into()).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn session(&self, conn: &Connection, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let setup = conn.create_channel().await?;
        self.topology.declare(&setup).await?;
        let dead = conn.create_channel().await?;
        dead.confirm_select(ConfirmSelectOptions::default()).await?;
        let dead = Arc::new(dead);
        let mut tasks = tokio::task::JoinSet::new();
        for p in 0..self.topology.partitions() {
            let channel = conn.create_channel().await?;
            // One job at a time per partition: order first.
            channel.basic_qos(1, BasicQosOptions::default()).await?;
            let consumer = channel
                .basic_consume(
                    self.topology.partition_queue(p).as_str().into(),
                    format!("{}-p{p:03}", self.name).as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            let worker = self.clone();
            let dead = dead.clone();
            let stop = stop.clone();
            tasks.spawn(async move { worker.consume(p, channel, consumer, dead, stop).await });
        }
        tracing::info!(partitions = self.topology.partitions(), "consuming");
        while let Some(result) = tasks.join_next().await {
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(anyhow::anyhow!("partition task failed: {e}")),
            }
        }
        Ok(())
    }

    async fn consume(
        self,
        partition: u16,
        channel: Channel,
        mut consumer: lapin::Consumer,
        dead: Arc<Channel>,
        mut stop: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        loop {
            let delivery = tokio::select! {
                d = consumer.next() => d,
                _ = stop.wait_for(|s| *s) => None,
            };
            let Some(delivery) = delivery else {
                let _ = channel.close(200, "stopping".into()).await;
                return if *stop.borrow() {
                    Ok(())
                } else {
                    Err(anyhow::anyhow!("consumer of partition {partition} ended"))
                };
            };
            let delivery = delivery?;
            self.handle(&delivery, &dead).await?;
        }
    }

    async fn handle(&self, delivery: &Delivery, dead: &Channel) -> anyhow::Result<()> {
        let job: Job = match serde_json::from_slice(&delivery.data) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(error = %e, "undecodable job; dead-lettering it");
                delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await?;
                return Ok(());
            }
        };
        let meta = job.meta().clone();
        let span = tracing::info_span!("job", job_id = %meta.job_id, key = %meta.key, tenant = %meta.tenant, version = meta.version);
        let _enter = span.enter();
        let cx = CallContext {
            job_id: meta.job_id.clone(),
            key: meta.key.clone(),
            version: meta.version,
        };
        let first_attempt = SystemTime::now();
        let mut attempts = 0u32;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .without_max_times()
            .build();
        let outcome = loop {
            attempts += 1;
            let result = match &job {
                Job::UserV1(j) => apply_user(self.api.as_ref(), &cx, &j.state, self.mode).await,
                Job::GroupV1(j) => apply_group(self.api.as_ref(), &cx, &j.state).await,
            };
            match result {
                Ok(applied) => break Ok(applied),
                Err(ApiError::Transient {
                    retry_after,
                    status,
                    detail,
                }) => {
                    let elapsed = first_attempt.elapsed().unwrap_or_default();
                    let delay = backoff.next().unwrap_or(Duration::from_secs(30));
                    let delay =
                        retry_after.map_or(delay, |r| r.max(delay.min(r + Duration::from_secs(1))));
                    if elapsed + delay > self.retry_budget {
                        break Err((
                            "retry_budget_exhausted",
                            ApiError::Transient {
                                retry_after,
                                status,
                                detail,
                            },
                        ));
                    }
                    tracing::warn!(attempts, ?status, %detail, delay_ms = delay.as_millis() as u64, "transient failure; retrying");
                    tokio::time::sleep(delay).await;
                }
                Err(e @ ApiError::Permanent { .. }) => break Err(("permanent", e)),
            }
        };
        match outcome {
            Ok(applied) => {
                tracing::info!(attempts, ?applied, "job applied");
            }
            Err((reason, error)) => {
                tracing::warn!(attempts, reason, %error, "dead-lettering job");
                self.dead_letter(dead, delivery, reason, &error, attempts, first_attempt)
                    .await?;
            }
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    /// Publishes the job to the dead-letter exchange with why, and waits for the confirm;
    /// the caller acks the original only afterwards.
    async fn dead_letter(
        &self,
        dead: &Channel,
        delivery: &Delivery,
        reason: &str,
        error: &ApiError,
        attempts: u32,
        first_attempt: SystemTime,
    ) -> anyhow::Result<()> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        let text = |s: &str| AMQPValue::LongString(LongString::from(s));
        headers.insert("x-splashsync-reason".into(), text(reason));
        headers.insert(
            "x-splashsync-attempts".into(),
            AMQPValue::LongLongInt(i64::from(attempts)),
        );
        headers.insert(
            "x-splashsync-first-attempt".into(),
            text(&rfc3339(first_attempt)),
        );
        headers.insert(
            "x-splashsync-last-attempt".into(),
            text(&rfc3339(SystemTime::now())),
        );
        match error {
            ApiError::Permanent {
                status, code, body, ..
            } => {
                headers.insert(
                    "x-splashsync-http-status".into(),
                    AMQPValue::LongLongInt(i64::from(*status)),
                );
                headers.insert("x-splashsync-error-code".into(), text(code));
                headers.insert("x-splashsync-error-body".into(), text(body));
            }
            ApiError::Transient { status, detail, .. } => {
                if let Some(s) = status {
                    headers.insert(
                        "x-splashsync-http-status".into(),
                        AMQPValue::LongLongInt(i64::from(*s)),
                    );
                }
                headers.insert("x-splashsync-error-body".into(), text(detail));
            }
        }
        let props = delivery.properties.clone().with_headers(headers);
        let confirm = dead
            .basic_publish(
                self.topology.dead_exchange().as_str().into(),
                "".into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &delivery.data,
                props,
            )
            .await?
            .await?;
        if !confirm.is_ack() || confirm.take_message().is_some() {
            anyhow::bail!("the dead-letter queue refused the job");
        }
        Ok(())
    }
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
