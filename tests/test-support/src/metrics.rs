//! Reading one sample out of an OpenMetrics (Prometheus text) exposition.

use std::collections::BTreeMap;

/// The value of the series `name` with exactly `labels` in `text`, if it exists.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(sample)
        .find(|(n, l, _)| n == name && *l == wanted)
        .map(|(_, _, value)| value)
}

/// One sample line: (name, labels, value).
fn sample(line: &str) -> Option<(String, BTreeMap<String, String>, f64)> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse::<f64>().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, rest.trim_end_matches('}')),
        None => (series, ""),
    };
    let labels = labels
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect();
    Some((name.to_string(), labels, value))
}

#[cfg(test)]
mod tests {
    use super::metric;

    const TEXT: &str = "# TYPE jobs counter\n\
        jobs_total{kind=\"user\",outcome=\"applied\"} 2\n\
        jobs_total{kind=\"user\",outcome=\"dead_lettered\"} 1\n\
        live 3\n";

    #[test]
    fn a_series_is_found_by_its_exact_labels() {
        let applied = [("kind", "user"), ("outcome", "applied")];
        assert_eq!(metric(TEXT, "jobs_total", &applied), Some(2.0));
        assert_eq!(metric(TEXT, "jobs_total", &[("kind", "user")]), None);
        assert_eq!(metric(TEXT, "live", &[]), Some(3.0));
    }
}
