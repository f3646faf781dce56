//! Paging of the listings (`GET …/users`, `GET …/groups`): pages in the listing's sort
//! order, and the opaque cursor of the next page.
//!
//! A cursor holds the sort key (lowercase email, lowercase group name) of the last item
//! of its page, hex-encoded behind a prefix naming the listing, so a cursor of one listing
//! is refused by the other. The next page starts after that key: an item added or
//! removed meanwhile neither shifts nor repeats the items of other pages.

use splashtop_api::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};

use super::error::ApiError;

/// Which listing a cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listing {
    /// `GET /teams/{team_id}/users`.
    Users,
    /// `GET /teams/{team_id}/groups`.
    Groups,
}

impl Listing {
    fn prefix(self) -> &'static str {
        match self {
            Self::Users => "u1",
            Self::Groups => "g1",
        }
    }
}

/// A page request, checked: the page size and the key to start after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageRequest {
    /// Items per page, 1 to [`MAX_PAGE_LIMIT`].
    pub(crate) limit: usize,
    /// The sort key of the previous page's last item.
    pub(crate) after: Option<String>,
}

impl PageRequest {
    /// Checks the `limit` and `cursor` query values of `listing` (400 when bad).
    pub(crate) fn parse(
        listing: Listing,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Self, ApiError> {
        let limit = match limit {
            None => DEFAULT_PAGE_LIMIT,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "limit must be an integer from 1 to {MAX_PAGE_LIMIT}, got {text:?}"
                    ))
                })?,
        };
        let after = cursor.map(|c| decode(listing, c)).transpose()?;
        Ok(Self {
            limit: limit as usize,
            after,
        })
    }

    /// The page of `items` (sorted by their unique sort key) this request asks for, and
    /// the cursor of the next page when there is one.
    pub(crate) fn page<T>(
        &self,
        listing: Listing,
        items: impl IntoIterator<Item = (String, T)>,
    ) -> (Vec<T>, Option<String>) {
        let mut rest = items
            .into_iter()
            .filter(|(key, _)| self.after.as_ref().is_none_or(|after| key > after))
            .peekable();
        let mut page = Vec::with_capacity(self.limit.min(64));
        let mut last = None;
        while page.len() < self.limit {
            let Some((key, item)) = rest.next() else {
                break;
            };
            page.push(item);
            last = Some(key);
        }
        let next = match (rest.peek(), last) {
            (Some(_), Some(last)) => Some(encode(listing, &last)),
            _ => None,
        };
        (page, next)
    }
}

fn encode(listing: Listing, key: &str) -> String {
    let mut cursor = String::from(listing.prefix());
    for byte in key.bytes() {
        cursor.push_str(&format!("{byte:02x}"));
    }
    cursor
}

fn decode(listing: Listing, cursor: &str) -> Result<String, ApiError> {
    let bad = || ApiError::invalid("cursor is not one this listing handed out");
    let hex = cursor.strip_prefix(listing.prefix()).ok_or_else(bad)?;
    if hex.is_empty() || hex.len() % 2 != 0 || !hex.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<(String, usize)> {
        (0..n).map(|i| (format!("k{i:03}"), i)).collect()
    }

    #[test]
    fn pages_cover_every_item_once_in_order() {
        let mut cursor: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let request = PageRequest::parse(Listing::Users, Some("7"), cursor.as_deref()).unwrap();
            let (page, next) = request.page(Listing::Users, items(23));
            assert!(page.len() <= 7);
            seen.extend(page);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, (0..23).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_last_page_has_no_next_cursor() {
        let request = PageRequest::parse(Listing::Groups, Some("5"), None).unwrap();
        assert_eq!(request.page(Listing::Groups, items(5)).1, None);
        assert!(request.page(Listing::Groups, items(6)).1.is_some());
    }

    #[test]
    fn bad_limits_and_cursors_are_refused() {
        for limit in ["0", "501", "-1", "ten", ""] {
            assert!(PageRequest::parse(Listing::Users, Some(limit), None).is_err());
        }
        let request = PageRequest::parse(Listing::Users, Some("1"), None).unwrap();
        let next = request.page(Listing::Users, items(3)).1.unwrap();
        assert!(PageRequest::parse(Listing::Groups, None, Some(&next)).is_err());
        for cursor in ["", "u1", "u1zz", "u1abc", "x", "u1ff"] {
            assert!(
                PageRequest::parse(Listing::Users, None, Some(cursor)).is_err(),
                "{cursor}"
            );
        }
        let limit = PageRequest::parse(Listing::Users, None, None)
            .unwrap()
            .limit;
        assert_eq!(limit, DEFAULT_PAGE_LIMIT as usize);
    }
}
