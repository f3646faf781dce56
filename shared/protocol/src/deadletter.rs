//! The dead-letter headers: why a worker gave up on a job, written and read in one place.
//!
//! The worker publishes a job it gives up on to the dead-letter exchange with these
//! headers; the receiver's intake reads them back into its dead-letter records. Both sides
//! go through [`DeadLetterHeaders`], so a typo in a header name cannot compile.

use serde::{Deserialize, Serialize};

/// Header names, `x-splashsync-*`. Private: only this module spells them (and only the
/// `amqp` feature reads or writes them).
#[cfg_attr(not(feature = "amqp"), allow(dead_code))]
mod names {
    pub(super) const REASON: &str = "x-splashsync-reason";
    pub(super) const ATTEMPTS: &str = "x-splashsync-attempts";
    pub(super) const FIRST_ATTEMPT: &str = "x-splashsync-first-attempt";
    pub(super) const LAST_ATTEMPT: &str = "x-splashsync-last-attempt";
    pub(super) const HTTP_STATUS: &str = "x-splashsync-http-status";
    pub(super) const ERROR_CODE: &str = "x-splashsync-error-code";
    pub(super) const ERROR_BODY: &str = "x-splashsync-error-body";
    /// Set by RabbitMQ when it dead-letters a message itself (delivery limit).
    pub(super) const BROKER_REASON: &str = "x-first-death-reason";
    /// Set by RabbitMQ on quorum queues: deliveries so far.
    pub(super) const DELIVERY_COUNT: &str = "x-delivery-count";
}

/// Why a job is in the dead-letter queue, as a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadReason {
    /// Splashtop refused the change for a reason retrying cannot fix.
    Permanent,
    /// Transient failures lasted longer than the retry budget.
    RetryBudgetExhausted,
    /// The message was not a job this worker understands.
    Undecodable,
    /// RabbitMQ dead-lettered it after too many deliveries (a worker kept failing before
    /// acking it).
    DeliveryLimit,
    /// A reason this version does not know (a newer worker's), kept as `unknown`.
    #[serde(other)]
    Unknown,
}

impl DeadReason {
    /// The wire spelling, also the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::Permanent => "permanent",
            DeadReason::RetryBudgetExhausted => "retry_budget_exhausted",
            DeadReason::Undecodable => "undecodable",
            DeadReason::DeliveryLimit => "delivery_limit",
            DeadReason::Unknown => "unknown",
        }
    }

    /// Parses the wire spelling; anything else is [`DeadReason::Unknown`].
    pub fn parse(text: &str) -> Self {
        match text {
            "permanent" => DeadReason::Permanent,
            "retry_budget_exhausted" => DeadReason::RetryBudgetExhausted,
            "undecodable" => DeadReason::Undecodable,
            "delivery_limit" | "delivery-limit" => DeadReason::DeliveryLimit,
            _ => DeadReason::Unknown,
        }
    }
}

impl std::fmt::Display for DeadReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the dead-letter headers say about one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterHeaders {
    /// Why.
    pub reason: DeadReason,
    /// Attempts made (for a broker dead-letter: deliveries).
    pub attempts: Option<i64>,
    /// When the first attempt started (RFC 3339).
    pub first_attempt: Option<String>,
    /// When the last attempt ended (RFC 3339).
    pub last_attempt: Option<String>,
    /// Splashtop's last HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// Splashtop's error code, when it gave one.
    pub error_code: Option<String>,
    /// Splashtop's last answer or the error, for operators.
    pub error_body: String,
}

#[cfg(feature = "amqp")]
mod amqp {
    use lapin::types::{AMQPValue, FieldTable, LongString};

    use super::{names, DeadLetterHeaders, DeadReason};

    impl DeadLetterHeaders {
        /// Writes these headers into `table` (the delivery's own headers are kept).
        pub fn encode_into(&self, table: &mut FieldTable) {
            let text = |s: &str| AMQPValue::LongString(LongString::from(s));
            table.insert(names::REASON.into(), text(self.reason.as_str()));
            if let Some(n) = self.attempts {
                table.insert(names::ATTEMPTS.into(), AMQPValue::LongLongInt(n));
            }
            if let Some(t) = &self.first_attempt {
                table.insert(names::FIRST_ATTEMPT.into(), text(t));
            }
            if let Some(t) = &self.last_attempt {
                table.insert(names::LAST_ATTEMPT.into(), text(t));
            }
            if let Some(s) = self.http_status {
                table.insert(
                    names::HTTP_STATUS.into(),
                    AMQPValue::LongLongInt(i64::from(s)),
                );
            }
            if let Some(code) = &self.error_code {
                table.insert(names::ERROR_CODE.into(), text(code));
            }
            table.insert(names::ERROR_BODY.into(), text(&self.error_body));
        }

        /// Reads the headers of a dead-lettered message: the worker's, or RabbitMQ's own
        /// when the broker dead-lettered it (delivery limit).
        pub fn decode(table: &FieldTable) -> Self {
            let broker_reason = text(table, names::BROKER_REASON);
            let deliveries = int(table, names::DELIVERY_COUNT);
            let reason = match (text(table, names::REASON), &broker_reason) {
                (Some(r), _) => DeadReason::parse(&r),
                (None, Some(_)) => DeadReason::DeliveryLimit,
                (None, None) => DeadReason::Unknown,
            };
            let error_body = text(table, names::ERROR_BODY).unwrap_or_else(|| match &broker_reason {
                Some(r) => format!(
                    "RabbitMQ dead-lettered the job ({r}) after {} deliveries: a worker kept failing before acking it",
                    deliveries.map_or_else(|| "repeated".to_string(), |n| n.to_string())
                ),
                None => String::new(),
            });
            Self {
                reason,
                attempts: int(table, names::ATTEMPTS).or(deliveries),
                first_attempt: text(table, names::FIRST_ATTEMPT),
                last_attempt: text(table, names::LAST_ATTEMPT),
                http_status: int(table, names::HTTP_STATUS).and_then(|s| u16::try_from(s).ok()),
                error_code: text(table, names::ERROR_CODE),
                error_body,
            }
        }
    }

    fn text(table: &FieldTable, name: &str) -> Option<String> {
        match table.inner().get(name)? {
            AMQPValue::LongString(s) => Some(s.to_string()),
            AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
            _ => None,
        }
    }

    fn int(table: &FieldTable, name: &str) -> Option<i64> {
        match table.inner().get(name)? {
            AMQPValue::LongLongInt(v) => Some(*v),
            AMQPValue::LongInt(v) => Some(i64::from(*v)),
            AMQPValue::LongUInt(v) => Some(i64::from(*v)),
            AMQPValue::ShortInt(v) => Some(i64::from(*v)),
            AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
            _ => None,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn full() -> DeadLetterHeaders {
            DeadLetterHeaders {
                reason: DeadReason::Permanent,
                attempts: Some(3),
                first_attempt: Some("2026-01-01T00:00:00Z".into()),
                last_attempt: Some("2026-01-01T00:00:09Z".into()),
                http_status: Some(422),
                error_code: Some("seat_limit_reached".into()),
                error_body: "{\"error\":{}}".into(),
            }
        }

        #[test]
        fn headers_round_trip_through_a_field_table() {
            for headers in [
                full(),
                DeadLetterHeaders {
                    reason: DeadReason::Undecodable,
                    attempts: None,
                    first_attempt: None,
                    last_attempt: None,
                    http_status: None,
                    error_code: None,
                    error_body: "expected value".into(),
                },
            ] {
                let mut table = FieldTable::default();
                headers.encode_into(&mut table);
                assert_eq!(DeadLetterHeaders::decode(&table), headers);
            }
        }

        #[test]
        fn the_delivery_s_own_headers_are_kept() {
            let mut table = FieldTable::default();
            table.insert("trace".into(), AMQPValue::LongString("abc".into()));
            full().encode_into(&mut table);
            assert_eq!(text(&table, "trace").as_deref(), Some("abc"));
        }

        #[test]
        fn a_broker_dead_letter_is_explained() {
            let mut table = FieldTable::default();
            table.insert(
                names::BROKER_REASON.into(),
                AMQPValue::LongString("delivery_limit".into()),
            );
            table.insert(names::DELIVERY_COUNT.into(), AMQPValue::LongInt(20));
            let decoded = DeadLetterHeaders::decode(&table);
            assert_eq!(decoded.reason, DeadReason::DeliveryLimit);
            assert_eq!(decoded.attempts, Some(20));
            assert!(decoded.error_body.contains("after 20 deliveries"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeadReason;

    #[test]
    fn reasons_round_trip_and_unknown_ones_are_kept_as_unknown() {
        for r in [
            DeadReason::Permanent,
            DeadReason::RetryBudgetExhausted,
            DeadReason::Undecodable,
            DeadReason::DeliveryLimit,
        ] {
            assert_eq!(DeadReason::parse(r.as_str()), r);
        }
        assert_eq!(DeadReason::parse("from-the-future"), DeadReason::Unknown);
    }
}
