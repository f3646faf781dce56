//! `/metrics` in the format the scraper asks for, and the build's identity.
//!
//! `prometheus_client` encodes OpenMetrics 1.0. Prometheus negotiates it (its `Accept`
//! lists `application/openmetrics-text` first), but `promtool check metrics`, `curl`, and
//! older scrapers read the Prometheus text format 0.0.4, where a counter's family is named
//! like its samples (`…_total`), there is no `# UNIT` and no `# EOF`. [`respond`] answers
//! OpenMetrics when the request's `Accept` prefers it and 0.0.4 otherwise, converting the
//! encoded text ([`to_prometheus_text`]) rather than keeping a second encoder.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

/// The content type of OpenMetrics text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of the Prometheus text format 0.0.4.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The name of the build-info gauge every process exports.
pub const BUILD_INFO: &str = "splashsync_build_info";
/// Its help text.
pub const BUILD_INFO_HELP: &str =
    "The running build: 1, labelled with its version (and git_sha when built with SPLASHSYNC_GIT_SHA set)";

/// The build-info gauge, set: register it as [`BUILD_INFO`] with [`BUILD_INFO_HELP`].
pub fn build_info_gauge() -> Family<Vec<(&'static str, String)>, Gauge> {
    let family: Family<Vec<(&'static str, String)>, Gauge> = Family::default();
    family.get_or_create(&build_info()).set(1);
    family
}

/// The labels of [`BUILD_INFO`]: the version, and the git commit when the build was given
/// one (`SPLASHSYNC_GIT_SHA` at compile time).
pub fn build_info() -> Vec<(&'static str, String)> {
    let mut labels = vec![("version", env!("CARGO_PKG_VERSION").to_string())];
    if let Some(sha) = option_env!("SPLASHSYNC_GIT_SHA").filter(|s| !s.is_empty()) {
        labels.push(("git_sha", sha.to_string()));
    }
    labels
}

/// The quality an `Accept` header gives `media` (`0.0` when it is not listed).
fn quality(accept: &str, media: &str) -> f64 {
    accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let kind = parts.next()?;
            if !kind.eq_ignore_ascii_case(media) {
                return None;
            }
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f64>().ok())
                .unwrap_or(1.0);
            Some(q)
        })
        .fold(0.0, f64::max)
}

/// Whether a scrape with this `Accept` header gets OpenMetrics: it lists
/// `application/openmetrics-text` at least as high as `text/plain`.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let open = quality(accept, "application/openmetrics-text");
    open > 0.0 && open >= quality(accept, "text/plain")
}

/// OpenMetrics text as `prometheus_client` writes it, in the Prometheus text format 0.0.4:
/// counter families take their samples' `_total` name, info families become `_info`
/// gauges, `_created` samples, `# UNIT` lines, exemplars and `# EOF` go.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut renamed: Vec<(String, String)> = Vec::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, kind)) = rest.split_once(' ') {
                match kind {
                    "counter" => renamed.push((name.into(), format!("{name}_total"))),
                    "info" => renamed.push((name.into(), format!("{name}_info"))),
                    _ => {}
                }
            }
        }
    }
    let new_name = |name: &str| {
        renamed
            .iter()
            .find(|(old, _)| old == name)
            .map(|(_, new)| new.clone())
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        let converted = if line == "# EOF" || line.starts_with("# UNIT ") {
            None
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let name = new_name(name).unwrap_or_else(|| name.to_string());
            // 0.0.4 escapes only `\\` and `\n` in HELP.
            Some(format!("# HELP {name} {}", help.replace("\\\"", "\"")))
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let kind = if kind == "info" { "gauge" } else { kind };
            let name = new_name(name).unwrap_or_else(|| name.to_string());
            Some(format!("# TYPE {name} {kind}"))
        } else if line.starts_with('#') {
            Some(line.to_string())
        } else {
            let series = line.split('{').next().unwrap_or(line);
            let series = series.split(' ').next().unwrap_or(series);
            let created = series
                .strip_suffix("_created")
                .is_some_and(|family| renamed.iter().any(|(old, _)| old == family));
            // An exemplar follows ` # ` after the value.
            (!created).then(|| line.split(" # ").next().unwrap_or(line).to_string())
        };
        if let Some(l) = converted {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

/// The answer to `GET /metrics`: `encoded` (OpenMetrics) in the format `headers` ask for.
pub fn respond(headers: &HeaderMap, encoded: Result<String, std::fmt::Error>) -> Response {
    let Ok(body) = encoded else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if wants_openmetrics(accept) {
        ([(header::CONTENT_TYPE, OPENMETRICS)], body).into_response()
    } else {
        (
            [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
            to_prometheus_text(&body),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: &str = "# HELP jobs Jobs finished.\n\
        # TYPE jobs counter\n\
        jobs_total{kind=\"user\"} 2\n\
        jobs_created{kind=\"user\"} 1700000000.0\n\
        # HELP wait_seconds Wait.\n\
        # TYPE wait_seconds histogram\n\
        # UNIT wait_seconds seconds\n\
        wait_seconds_sum 0.5\n\
        wait_seconds_count 1\n\
        wait_seconds_bucket{le=\"+Inf\"} 1 # {trace=\"x\"} 0.5\n\
        # HELP build Build.\n\
        # TYPE build info\n\
        build_info{version=\"1\"} 1\n\
        # HELP live Live.\n\
        # TYPE live gauge\n\
        live 3\n\
        # EOF\n";

    #[test]
    fn openmetrics_becomes_prometheus_text() {
        let text = to_prometheus_text(OPEN);
        let expected = "# HELP jobs_total Jobs finished.\n\
            # TYPE jobs_total counter\n\
            jobs_total{kind=\"user\"} 2\n\
            # HELP wait_seconds Wait.\n\
            # TYPE wait_seconds histogram\n\
            wait_seconds_sum 0.5\n\
            wait_seconds_count 1\n\
            wait_seconds_bucket{le=\"+Inf\"} 1\n\
            # HELP build_info Build.\n\
            # TYPE build_info gauge\n\
            build_info{version=\"1\"} 1\n\
            # HELP live Live.\n\
            # TYPE live gauge\n\
            live 3\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn openmetrics_only_when_the_scraper_prefers_it() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(Some(prometheus)));
        assert!(wants_openmetrics(Some("application/openmetrics-text")));
        assert!(!wants_openmetrics(None));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(Some("text/plain;version=0.0.4")));
        assert!(!wants_openmetrics(Some(
            "application/openmetrics-text;q=0.2, text/plain;q=0.9"
        )));
        assert!(!wants_openmetrics(Some("application/openmetrics-text;q=0")));
    }

    #[test]
    fn the_build_is_named_by_its_version() {
        let labels = build_info();
        assert_eq!(
            labels[0],
            ("version", env!("CARGO_PKG_VERSION").to_string())
        );
    }
}
