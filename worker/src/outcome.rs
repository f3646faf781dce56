//! Outcome events: one per attempt at a job, published to `<prefix>.events` so that the
//! receiver's audit log can tell operators what Splashtop answered (docs/DESIGN.md,
//! invariant 7).

use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel, Confirmation};
use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use splashsync_protocol::job::JobMeta;
use splashsync_protocol::topology::Topology;
use splashsync_scim::now_rfc3339;

use crate::apply::Applied;
use splashtop_api::ApiError;

/// What an attempt ended with, as an event.
#[derive(Debug)]
pub(crate) struct Attempt<'a> {
    pub(crate) meta: &'a JobMeta,
    pub(crate) kind: &'static str,
    pub(crate) attempt: u32,
    pub(crate) worker: &'a str,
    /// The account email (user job) or group name (group job), for operators' logs.
    pub(crate) name: &'a str,
}

impl Attempt<'_> {
    fn event(&self, status: OutcomeStatus, detail: String) -> OutcomeEvent {
        OutcomeEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            job_id: self.meta.job_id.clone(),
            tenant: self.meta.tenant.clone(),
            key: self.meta.key.clone(),
            version: self.meta.version,
            kind: self.kind.to_string(),
            attempt: self.attempt,
            at: now_rfc3339(),
            status,
            detail,
            http_status: None,
            error_code: None,
            reason: None,
            splashtop_id: None,
            worker: self.worker.to_string(),
            next_attempt_at: None,
            name: Some(self.name.to_owned()),
        }
    }

    /// The job was applied, or skipped as stale.
    pub(crate) fn done(&self, applied: &Applied) -> OutcomeEvent {
        let (status, id) = match applied {
            Applied::Skipped { .. } | Applied::Superseded { .. } => {
                (OutcomeStatus::SkippedStale, None)
            }
            Applied::Invited(id)
            | Applied::Updated(id)
            | Applied::Unchanged(id)
            | Applied::Removed(id)
            | Applied::GroupCreated(id)
            | Applied::GroupRenamed(id)
            | Applied::GroupDeleted(id) => (OutcomeStatus::Applied, Some(id.clone())),
            Applied::AlreadyAbsent => (OutcomeStatus::Applied, None),
        };
        let mut event = self.event(status, applied.to_string());
        event.splashtop_id = id;
        event
    }

    /// Not applied: `by`, a newer job of the same key, was delivered behind it.
    pub(crate) fn superseded(&self, by: &JobMeta) -> OutcomeEvent {
        self.event(
            OutcomeStatus::Superseded,
            format!("superseded by job {} (version {})", by.job_id, by.version),
        )
    }

    /// A transient failure; the worker retries after `delay`.
    pub(crate) fn retrying(&self, error: &ApiError, delay: Duration) -> OutcomeEvent {
        let mut event = self.event(OutcomeStatus::Retrying, error.to_string());
        if let ApiError::Transient { status, .. } = error {
            event.http_status = *status;
        }
        event.next_attempt_at = rfc3339_after(delay);
        event
    }

    /// The job went to the dead-letter queue.
    pub(crate) fn dead(
        &self,
        class: &str,
        status: Option<u16>,
        code: Option<&str>,
        body: &str,
    ) -> OutcomeEvent {
        let mut event = self.event(OutcomeStatus::DeadLettered, body.to_string());
        event.reason = Some(class.to_string());
        event.http_status = status;
        event.error_code = code.map(str::to_string);
        event
    }
}

/// `delay` from now, in RFC 3339 (milliseconds), as operators read it.
fn rfc3339_after(delay: Duration) -> Option<String> {
    let at = time::OffsetDateTime::now_utc() + delay;
    let at = at
        .replace_nanosecond(at.millisecond() as u32 * 1_000_000)
        .unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Publishes `payload` to the events exchange and waits for the broker's confirm.
pub(crate) async fn to_events(
    channel: &Channel,
    topology: &Topology,
    payload: &[u8],
    props: BasicProperties,
) -> lapin::Result<Confirmation> {
    channel
        .basic_publish(
            topology.events_exchange().as_str().into(),
            "".into(),
            BasicPublishOptions::default(),
            payload,
            props,
        )
        .await?
        .await
}

/// Publishes an event and waits for the broker's confirm. An event that cannot be
/// published is logged, not retried: the job itself has already been handled, and the
/// receiver still sees the key's state through the next event or the dead letter.
pub(crate) async fn publish(channel: &Channel, topology: &Topology, event: &OutcomeEvent) {
    let payload = match serde_json::to_vec(event) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot encode an outcome event");
            return;
        }
    };
    let props = BasicProperties::default()
        .with_message_id(event.event_id.as_str().into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2);
    match to_events(channel, topology, &payload, props).await {
        Ok(confirm) if confirm.is_ack() => {}
        Ok(_) => tracing::warn!(
            event = event.status.as_str(),
            "the broker refused an outcome event"
        ),
        Err(e) => {
            tracing::warn!(error = %e, event = event.status.as_str(), "cannot publish an outcome event")
        }
    }
}
