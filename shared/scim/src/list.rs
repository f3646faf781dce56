//! The ListResponse envelope (RFC 7644 §3.4.2) and its paging parameters.

use serde::Serialize;

use super::schema;

/// A page of resources. Paging fields are always numbers and `Resources` is always an
/// array, even when empty: Okta's "Test API Credentials" fails on anything else.
#[derive(Debug, Clone, Serialize)]
pub struct ListResponse<T> {
    schemas: [&'static str; 1],
    /// Matches in all pages.
    #[serde(rename = "totalResults")]
    pub total_results: u64,
    /// 1-based index of the first resource of this page.
    #[serde(rename = "startIndex")]
    pub start_index: u64,
    /// Resources on this page.
    #[serde(rename = "itemsPerPage")]
    pub items_per_page: u64,
    /// The resources.
    #[serde(rename = "Resources")]
    pub resources: Vec<T>,
}

impl<T> ListResponse<T> {
    /// A page starting at `start_index` out of `total_results`.
    pub fn new(resources: Vec<T>, total_results: u64, start_index: u64) -> Self {
        Self {
            schemas: [schema::LIST_RESPONSE],
            total_results,
            start_index,
            items_per_page: resources.len() as u64,
            resources,
        }
    }
}

/// Normalised paging parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based start index.
    pub start_index: u64,
    /// Page size, 0 meaning "only totalResults".
    pub count: u64,
}

impl Paging {
    /// Normalises raw query values: a missing, zero or negative startIndex is 1
    /// (RFC 7644 §3.4.2.4); a missing count is `default`, a negative one 0, and a count
    /// over `max` is `max`.
    pub fn normalise(start_index: Option<i64>, count: Option<i64>, default: u64, max: u64) -> Self {
        let start_index = match start_index {
            Some(s) if s > 1 => s as u64,
            _ => 1,
        };
        let count = match count {
            None => default.min(max),
            Some(c) if c <= 0 => 0,
            Some(c) => (c as u64).min(max),
        };
        Self { start_index, count }
    }

    /// The zero-based offset of the first resource.
    pub fn offset(&self) -> u64 {
        self.start_index - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_is_a_full_envelope() {
        let body = serde_json::to_value(ListResponse::<u8>::new(vec![], 0, 1)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "schemas": [schema::LIST_RESPONSE],
                "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []
            })
        );
    }

    #[test]
    fn paging_defaults_and_clamps() {
        assert_eq!(
            Paging::normalise(None, None, 100, 1000),
            Paging {
                start_index: 1,
                count: 100
            }
        );
        assert_eq!(
            Paging::normalise(Some(0), Some(-5), 100, 1000),
            Paging {
                start_index: 1,
                count: 0
            }
        );
        assert_eq!(
            Paging::normalise(Some(-3), Some(5000), 100, 1000),
            Paging {
                start_index: 1,
                count: 1000
            }
        );
        assert_eq!(
            Paging::normalise(Some(101), Some(100), 100, 1000).offset(),
            100
        );
    }
}
