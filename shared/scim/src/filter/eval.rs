//! Evaluation of filters against JSON resources.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::{AttrPath, CompValue, CompareOp, Filter};

/// Schema knowledge needed to evaluate filters.
pub trait AttrSchema {
    /// Whether string comparisons on `path` are case-exact. Inside a value
    /// filter, `path` is the full path (`emails.type` for `emails[type eq ..]`).
    fn case_exact(&self, path: &AttrPath) -> bool;
}

/// RFC 7643 defaults for the User and Group schemas.
///
/// Case-exact: `id`, `externalId`, `meta.*` strings, every `$ref`, and
/// `members.value`/`groups.value` (they hold case-sensitive ids; RFC 7643
/// says `caseExact: false` there). Everything else (`userName`,
/// `displayName`, `emails.value`, `name.*`, extensions) is case-insensitive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultSchema;

impl AttrSchema for DefaultSchema {
    fn case_exact(&self, path: &AttrPath) -> bool {
        if path.extension_urn().is_some() {
            return false;
        }
        if path.sub.as_deref().unwrap_or(&path.name) == "$ref" {
            return true;
        }
        let name = path.name.to_ascii_lowercase();
        let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
        matches!(
            (name.as_str(), sub.as_deref()),
            ("id" | "externalid", None) | ("meta", Some(_)) | ("members" | "groups", Some("value"))
        )
    }
}

impl Filter {
    /// Whether `resource` (a SCIM resource object) matches this filter.
    pub fn matches(&self, resource: &Value, schema: &dyn AttrSchema) -> bool {
        eval(self, resource, None, schema)
    }

    /// Whether one value of the multi-valued attribute `parent` matches this
    /// value filter (the part inside `[...]`, whose paths are relative);
    /// values that are not JSON objects never match.
    pub fn matches_element(
        &self,
        element: &Value,
        parent: &AttrPath,
        schema: &dyn AttrSchema,
    ) -> bool {
        if !element.is_object() {
            return false;
        }
        let parent = AttrPath {
            urn: parent.urn.clone(),
            name: parent.name.clone(),
            sub: None,
        };
        eval(self, element, Some(&parent), schema)
    }
}

fn eval(f: &Filter, ctx: &Value, parent: Option<&AttrPath>, schema: &dyn AttrSchema) -> bool {
    match f {
        Filter::Compare { path, op, value } => compare(ctx, parent, path, *op, value, schema),
        Filter::Present(path) => resolve(ctx, path).into_iter().any(is_present),
        Filter::And(a, b) => eval(a, ctx, parent, schema) && eval(b, ctx, parent, schema),
        Filter::Or(a, b) => eval(a, ctx, parent, schema) || eval(b, ctx, parent, schema),
        Filter::Not(inner) => !eval(inner, ctx, parent, schema),
        Filter::ValuePath { path, filter } => {
            let full = full_path(parent, path);
            resolve(ctx, path)
                .into_iter()
                .any(|el| el.is_object() && eval(filter, el, Some(&full), schema))
        }
    }
}

/// The path as the schema sees it: relative paths inside a value filter are
/// sub-attributes of the filtered attribute.
fn full_path(parent: Option<&AttrPath>, path: &AttrPath) -> AttrPath {
    match parent {
        Some(p) => AttrPath {
            urn: p.urn.clone(),
            name: p.name.clone(),
            sub: Some(path.name.clone()),
        },
        None => path.clone(),
    }
}

/// Case-insensitive lookup of `key` in a JSON object (exact spelling first).
fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn push_flat<'a>(out: &mut Vec<&'a Value>, v: &'a Value) {
    match v {
        Value::Array(items) => out.extend(items.iter().filter(|i| !i.is_null())),
        Value::Null => {}
        other => out.push(other),
    }
}

/// The non-null values at `path`, multi-valued attributes flattened.
fn resolve<'a>(ctx: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let base = match path.extension_urn() {
        Some(urn) => get_ci(ctx, urn),
        None => Some(ctx),
    };
    let mut top = Vec::new();
    if let Some(v) = base.and_then(|b| get_ci(b, &path.name)) {
        push_flat(&mut top, v);
    }
    let Some(sub) = &path.sub else {
        return top;
    };
    let mut out = Vec::new();
    for v in top {
        if let Some(s) = get_ci(v, sub) {
            push_flat(&mut out, s);
        }
    }
    out
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(
    ctx: &Value,
    parent: Option<&AttrPath>,
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
    schema: &dyn AttrSchema,
) -> bool {
    let mut candidates = resolve(ctx, path);
    let mut schema_path = full_path(parent, path);
    if path.sub.is_none() && candidates.iter().any(|c| c.is_object()) {
        // RFC 7644 §3.4.2.2: a complex attribute without sub-attribute is
        // compared through its `value` sub-attribute.
        candidates = candidates
            .into_iter()
            .filter_map(|c| match c {
                Value::Object(_) => get_ci(c, "value").filter(|v| !v.is_null()),
                other => Some(other),
            })
            .collect();
        if schema_path.sub.is_none() {
            schema_path.sub = Some("value".into());
        }
    }
    if *value == CompValue::Null {
        let present = !candidates.is_empty();
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    if candidates.is_empty() {
        return op == CompareOp::Ne;
    }
    let exact = matches!(value, CompValue::Str(_)) && schema.case_exact(&schema_path);
    candidates
        .into_iter()
        .any(|c| compare_one(c, op, value, exact))
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn compare_one(actual: &Value, op: CompareOp, expected: &CompValue, exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), CompValue::Str(b)) => compare_str(a, b, op, exact),
        (Value::Number(a), CompValue::Num(b)) => by_ordering(compare_num(a, b), op),
        (Value::Bool(a), CompValue::Bool(b)) => compare_bool(*a, Some(*b), op),
        // Lenient: booleans sent or stored as strings ("True").
        (Value::Bool(a), CompValue::Str(b)) => compare_bool(*a, parse_bool(b), op),
        (Value::String(a), CompValue::Bool(b)) => match parse_bool(a) {
            Some(a) => compare_bool(a, Some(*b), op),
            None => op == CompareOp::Ne,
        },
        _ => op == CompareOp::Ne,
    }
}

fn compare_bool(a: bool, b: Option<bool>, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => b == Some(a),
        CompareOp::Ne => b != Some(a),
        _ => false,
    }
}

fn compare_str(a: &str, b: &str, op: CompareOp, exact: bool) -> bool {
    let (a, b) = if exact {
        (a.to_string(), b.to_string())
    } else {
        (a.to_lowercase(), b.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        _ => by_ordering(Some(a.cmp(&b)), op),
    }
}

fn compare_num(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn by_ordering(ord: Option<Ordering>, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ord == Some(Ordering::Equal),
        CompareOp::Ne => ord != Some(Ordering::Equal),
        CompareOp::Gt => ord == Some(Ordering::Greater),
        CompareOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        CompareOp::Lt => ord == Some(Ordering::Less),
        CompareOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
