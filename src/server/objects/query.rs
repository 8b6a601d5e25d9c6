//! The options of App Context reads: `include`, `filter`, `sort`, `limit`,
//! `start` / `end` page cursors and `count` (PROTOCOL.md §9).

use std::cmp::Ordering;

use base64::Engine as _;
use serde_json::Value;

use super::store::{Kind, Shown};
use super::{objects_error, ObjectsError};
use crate::server::filter::{FilterContext, FilterExpr};
use crate::server::wire::Query;

/// The default and the largest page (`limit`).
pub(crate) const MAX_LIMIT: usize = 100;

/// What to include of the records and of the nested object.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Includes {
    pub(crate) shown: Shown,
    /// The nested object of a membership/member (`channel`, `uuid`), with
    /// its `.custom` / `.status` / `.type`.
    pub(crate) nested: Option<Shown>,
    pub(crate) total_count: bool,
}

impl Includes {
    /// `include=…` (and `count=true`); `nested` names the nested object
    /// (`channel` for memberships, `uuid` for members, `None` otherwise).
    pub(crate) fn parse(query: &Query, nested: Option<Kind>) -> Self {
        let mut out = Self {
            total_count: query.flag("count", false),
            ..Self::default()
        };
        let mut nested_shown = Shown::default();
        let mut nested_on = false;
        for item in query.list("include") {
            match item.as_str() {
                "custom" => out.shown.custom = true,
                "status" => out.shown.status = true,
                "type" => out.shown.r#type = true,
                "totalCount" => out.total_count = true,
                other => {
                    let Some(key) = nested.map(Kind::key) else {
                        continue;
                    };
                    match other.strip_prefix(key) {
                        Some("") => nested_on = true,
                        Some(".custom") => nested_shown.custom = true,
                        Some(".status") => nested_shown.status = true,
                        Some(".type") => nested_shown.r#type = true,
                        // Unknown entries are ignored, like unknown properties.
                        _ => {}
                    }
                }
            }
        }
        // `channel.custom` alone implies the channel itself.
        if nested_on || nested_shown != Shown::default() {
            out.nested = Some(nested_shown);
        }
        out
    }
}

/// One sort key: a field path and its direction.
#[derive(Debug, Clone)]
struct SortKey {
    path: Vec<String>,
    descending: bool,
}

/// Filter, sort and paging of a list.
#[derive(Debug)]
pub(crate) struct ListOptions {
    filter: Option<FilterExpr>,
    sort: Vec<SortKey>,
    limit: usize,
    start: Option<usize>,
    end: Option<usize>,
}

fn decode_cursor(name: &str, cursor: &str) -> Result<usize, ObjectsError> {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            objects_error(
                400,
                format!(
                    "Invalid `{name}` cursor: pass the `next` or `prev` value of a previous page."
                ),
            )
        })
}

fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(offset.to_string())
}

impl ListOptions {
    /// Reads the query; `sortable` lists the fields `sort` accepts.
    pub(crate) fn parse(query: &Query, sortable: &[&str]) -> Result<Self, ObjectsError> {
        let filter =
            match query.non_empty("filter") {
                Some(text) => Some(FilterExpr::parse(text).map_err(|e| {
                    objects_error(400, format!("Invalid `filter` expression: {e}."))
                })?),
                None => None,
            };
        let mut sort = Vec::new();
        for item in query.list("sort") {
            let (field, direction) = item.split_once(':').unwrap_or((item.as_str(), "asc"));
            let descending = match direction.to_ascii_lowercase().as_str() {
                "asc" => false,
                "desc" => true,
                _ => {
                    return Err(objects_error(
                        400,
                        format!("Invalid `sort` direction `{direction}`: use `asc` or `desc`."),
                    ))
                }
            };
            if !sortable.contains(&field) {
                return Err(objects_error(
                    400,
                    format!(
                        "Invalid `sort` field `{field}`: sortable fields are {}.",
                        sortable.join(", ")
                    ),
                ));
            }
            sort.push(SortKey {
                path: field.split('.').map(str::to_owned).collect(),
                descending,
            });
        }
        let limit = match query.non_empty("limit") {
            None => MAX_LIMIT,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= MAX_LIMIT)
                .ok_or_else(|| {
                    objects_error(
                        400,
                        format!("Invalid `limit` `{text}`: a number from 0 to {MAX_LIMIT}."),
                    )
                })?,
        };
        let start = query
            .non_empty("start")
            .map(|c| decode_cursor("start", c))
            .transpose()?;
        let end = query
            .non_empty("end")
            .map(|c| decode_cursor("end", c))
            .transpose()?;
        Ok(Self {
            filter,
            sort,
            limit,
            start,
            end,
        })
    }

    /// The answer of a list: `records` filtered, sorted and paged, each
    /// shown with `render`. `full` renders a record with every field, for
    /// the filter and the sort (only called when they need it).
    pub(crate) fn answer<T>(
        &self,
        records: impl IntoIterator<Item = T>,
        full: impl Fn(&T) -> String,
        render: impl Fn(&T) -> String,
        total_count: bool,
    ) -> String {
        let records = records
            .into_iter()
            .map(|record| {
                let value = self
                    .needs_values()
                    .then(|| serde_json::from_str(&full(&record)).unwrap_or(Value::Null));
                (record, value)
            })
            .collect();
        let selected = self.select(records);
        let page = self.page(selected.len());
        let items: Vec<String> = selected
            .get(page.from..page.to)
            .unwrap_or_default()
            .iter()
            .map(render)
            .collect();
        list_body(&items, total_count.then_some(selected.len()), &page)
    }

    /// Whether filtering or sorting needs the full JSON of each record.
    fn needs_values(&self) -> bool {
        self.filter.is_some() || !self.sort.is_empty()
    }

    /// Keeps the records the filter accepts and sorts them (stable: ties
    /// keep id order). `value` is a record's full JSON.
    fn select<T>(&self, records: Vec<(T, Option<Value>)>) -> Vec<T> {
        let mut kept: Vec<(T, Option<Value>)> = records
            .into_iter()
            .filter(|(_, value)| {
                self.filter.as_ref().is_none_or(|filter| {
                    filter.matches(&FilterContext {
                        meta: value.as_ref(),
                        data: None,
                        publisher: None,
                        channel: "",
                    })
                })
            })
            .collect();
        if !self.sort.is_empty() {
            kept.sort_by(|(_, a), (_, b)| {
                self.sort
                    .iter()
                    .map(|key| {
                        let order =
                            compare(field(a.as_ref(), &key.path), field(b.as_ref(), &key.path));
                        if key.descending {
                            order.reverse()
                        } else {
                            order
                        }
                    })
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            });
        }
        kept.into_iter().map(|(record, _)| record).collect()
    }

    /// The page of `total` records to answer, and its `next` / `prev`
    /// cursors. Like PubNub, a non-empty page always has a `next` (the
    /// page after the last one is empty and has none).
    pub(crate) fn page(&self, total: usize) -> Page {
        let (from, to) = match (self.start, self.end) {
            (Some(start), _) => {
                let from = start.min(total);
                (from, from.saturating_add(self.limit).min(total))
            }
            (None, Some(end)) => {
                let to = end.min(total);
                (to.saturating_sub(self.limit), to)
            }
            (None, None) => (0, self.limit.min(total)),
        };
        Page {
            from,
            to,
            next: (to > from).then(|| encode_cursor(to)),
            prev: (from > 0).then(|| encode_cursor(from)),
        }
    }
}

/// One page: the range of the selected records, and the cursors.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) next: Option<String>,
    pub(crate) prev: Option<String>,
}

fn field<'a>(value: Option<&'a Value>, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value?, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// Missing before present; strings by code point, numbers numerically.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(Value::String(a)), Some(Value::String(b))) => a.cmp(b),
        (Some(Value::Number(a)), Some(Value::Number(b))) => a
            .as_f64()
            .partial_cmp(&b.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(a), Some(b)) => a.to_string().cmp(&b.to_string()),
    }
}

/// Renders `{"status":200,"data":[…],"totalCount":n,"next":…,"prev":…}`.
fn list_body(items: &[String], total: Option<usize>, page: &Page) -> String {
    let mut out = String::from(r#"{"status":200,"data":["#);
    out.push_str(&items.join(","));
    out.push(']');
    if let Some(total) = total {
        out.push_str(&format!(r#","totalCount":{total}"#));
    }
    if let Some(next) = &page.next {
        out.push_str(&format!(r#","next":"{next}""#));
    }
    if let Some(prev) = &page.prev {
        out.push_str(&format!(r#","prev":"{prev}""#));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> Query {
        Query::new(crate::server::wire::decode_query(q).unwrap())
    }

    #[test]
    fn cursors_are_pubnubs() {
        assert_eq!(encode_cursor(1), "MQ");
        assert_eq!(encode_cursor(10), "MTA");
        assert_eq!(decode_cursor("start", "Mg").unwrap(), 2);
        assert!(decode_cursor("start", "!!").is_err());
    }

    #[test]
    fn pages_walk_both_ways() {
        let list = ListOptions::parse(&query("limit=2"), &["id"]).unwrap();
        let first = list.page(5);
        assert_eq!((first.from, first.to, first.prev.as_deref()), (0, 2, None));
        let next = first.next.unwrap();
        let list = ListOptions::parse(&query(&format!("limit=2&start={next}")), &["id"]).unwrap();
        let second = list.page(5);
        assert_eq!((second.from, second.to), (2, 4));
        let prev = second.prev.unwrap();
        let list = ListOptions::parse(&query(&format!("limit=2&end={prev}")), &["id"]).unwrap();
        assert_eq!(list.page(5).from, 0);
        assert!(ListOptions::parse(&query("limit=101"), &["id"]).is_err());
        assert!(ListOptions::parse(&query("sort=bogus"), &["id"]).is_err());
    }

    #[test]
    fn includes_name_the_nested_object() {
        let inc = Includes::parse(
            &query("include=custom,channel.custom,totalCount"),
            Some(Kind::Channel),
        );
        assert!(inc.shown.custom && inc.total_count);
        assert_eq!(
            inc.nested,
            Some(Shown {
                custom: true,
                ..Shown::default()
            })
        );
        assert!(
            Includes::parse(&query("include=custom"), Some(Kind::Channel))
                .nested
                .is_none()
        );
    }
}
