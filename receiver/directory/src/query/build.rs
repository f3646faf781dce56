//! The filter AST into a [`Condition`], node by node, each exact or a superset.
//!
//! SQL's NULL (a missing attribute) reads as false in a WHERE clause, as the evaluator's
//! answer does, through `AND` and `OR`; only negation differs, so every `NOT` applies to
//! `COALESCE(..., FALSE)`. Leaves stay bare so that the expression indexes serve them.

use splashsync_scim::filter::{AttrPath, CompValue, CompareOp, Filter};

use super::attrs::{self, Attr, Case};
use super::{Arg, Condition, Dialect, Table};

/// Where paths resolve: a row, or an element document of a value path.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Row(Table),
    Element(&'a str),
}

/// The condition selecting what `filter` selects on `table` (or a superset, not exact).
pub(super) fn condition(d: &dyn Dialect, table: Table, filter: &Filter) -> Condition {
    node(d, Scope::Row(table), filter)
}

fn node(d: &dyn Dialect, scope: Scope<'_>, f: &Filter) -> Condition {
    match f {
        Filter::And(a, b) => join(node(d, scope, a), "AND", node(d, scope, b)),
        Filter::Or(a, b) => join(node(d, scope, a), "OR", node(d, scope, b)),
        Filter::Not(inner) => {
            let c = node(d, scope, inner);
            if !c.exact {
                return Condition::any();
            }
            Condition {
                sql: not(&c.sql),
                ..c
            }
        }
        Filter::Present(path) => leaf(d, scope, path, present),
        Filter::Compare { path, op, value } => {
            leaf(d, scope, path, |d, a| compare(d, a, *op, value))
        }
        Filter::ValuePath { path, filter } => value_path(d, scope, path, filter),
    }
}

/// The negation of a condition, NULL read as false.
fn not(sql: &str) -> String {
    format!("(NOT COALESCE({sql}, FALSE))")
}

fn join(a: Condition, op: &str, b: Condition) -> Condition {
    let mut args = a.args;
    args.extend(b.args);
    Condition {
        sql: format!("({} {op} {})", a.sql, b.sql),
        args,
        exact: a.exact && b.exact,
    }
}

fn leaf(
    d: &dyn Dialect,
    scope: Scope<'_>,
    path: &AttrPath,
    build: impl Fn(&dyn Dialect, &Attr) -> Option<Condition>,
) -> Condition {
    let attr = match scope {
        Scope::Row(table) => attrs::root(d, table, path),
        Scope::Element(doc) => attrs::element(d, doc, path),
    };
    attr.and_then(|a| build(d, &a))
        .unwrap_or_else(Condition::any)
}

fn exact(sql: String, args: Vec<Arg>) -> Option<Condition> {
    Some(Condition {
        sql,
        args,
        exact: true,
    })
}

/// `EXISTS` over the object elements of `array` of the row, `cond` built per element.
fn exists(d: &dyn Dialect, array: &str, cond: impl FnOnce(&str) -> Condition) -> Condition {
    let e = d.elements(array);
    let c = cond(&e.doc);
    Condition {
        sql: format!(
            "EXISTS (SELECT 1 FROM {} WHERE {} AND {})",
            e.from, e.objects, c.sql
        ),
        ..c
    }
}

fn present(d: &dyn Dialect, attr: &Attr) -> Option<Condition> {
    match attr {
        Attr::Text { expr, .. } => exact(format!("{expr} <> ''"), Vec::new()),
        Attr::Bool { doc, keys } => exact(d.json_bool(doc, keys, None), Vec::new()),
        Attr::Multi { array, sub } => Some(exists(d, array, |doc| {
            let expr = d.json_text(doc, &[sub]);
            Condition {
                sql: format!("{expr} <> ''"),
                args: Vec::new(),
                exact: true,
            }
        })),
    }
}

fn compare(d: &dyn Dialect, attr: &Attr, op: CompareOp, value: &CompValue) -> Option<Condition> {
    match attr {
        Attr::Text { expr, case } => {
            let CompValue::Str(s) = value else {
                return None;
            };
            text_compare(d, expr, *case, op, s)
        }
        Attr::Bool { doc, keys } => {
            let b = match value {
                CompValue::Bool(b) => *b,
                CompValue::Str(s) if s.eq_ignore_ascii_case("true") => true,
                CompValue::Str(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return None,
            };
            let is = d.json_bool(doc, keys, Some(b));
            match op {
                CompareOp::Eq => exact(is, Vec::new()),
                CompareOp::Ne => exact(not(&is), Vec::new()),
                _ => None,
            }
        }
        Attr::Multi { array, sub } => {
            let CompValue::Str(s) = value else {
                return None;
            };
            multi_compare(d, array, sub, op, s)
        }
    }
}

/// `emails.value op "s"`: some value compares; `ne`: no value at all, or one that differs.
fn multi_compare(
    d: &dyn Dialect,
    array: &str,
    sub: &str,
    op: CompareOp,
    s: &str,
) -> Option<Condition> {
    let positive = if op == CompareOp::Ne {
        CompareOp::Eq
    } else {
        op
    };
    let mut built = None;
    let any = exists(d, array, |doc| {
        let expr = d.json_text(doc, &[sub]);
        built = text_compare(d, &expr, Case::Folded, positive, s);
        built.clone().unwrap_or_else(Condition::any)
    });
    built?;
    if op != CompareOp::Ne {
        return Some(any);
    }
    let some = exists(d, array, |doc| Condition {
        sql: format!("{} IS NOT NULL", d.json_text(doc, &[sub])),
        args: Vec::new(),
        exact: true,
    });
    let differs = exists(d, array, |doc| {
        let expr = d.json_text(doc, &[sub]);
        let c =
            text_compare(d, &expr, Case::Folded, CompareOp::Eq, s).unwrap_or_else(Condition::any);
        Condition {
            sql: format!("({expr} IS NOT NULL AND {})", not(&c.sql)),
            ..c
        }
    });
    exact(
        format!("({} OR {})", not(&some.sql), differs.sql),
        differs.args,
    )
}

/// A string comparison: exact when the attribute's case rule can be applied in SQL.
fn text_compare(
    d: &dyn Dialect,
    expr: &str,
    case: Case,
    op: CompareOp,
    s: &str,
) -> Option<Condition> {
    let (lhs, lit, folded) = match case {
        Case::Exact => (expr.to_string(), s.to_string(), false),
        Case::Lowered => (expr.to_string(), s.to_lowercase(), true),
        Case::Folded => {
            let lit = s.to_lowercase();
            if !lit.is_ascii() {
                return None;
            }
            (d.fold(expr), lit, true)
        }
    };
    let (sql, arg) = match op {
        CompareOp::Eq => (d.compare(&lhs, "="), lit),
        CompareOp::Ne => (not(&d.compare(&lhs, "=")), lit),
        CompareOp::Gt => (d.compare(&lhs, ">"), lit),
        CompareOp::Ge => (d.compare(&lhs, ">="), lit),
        CompareOp::Lt => (d.compare(&lhs, "<"), lit),
        CompareOp::Le => (d.compare(&lhs, "<="), lit),
        CompareOp::Co => (d.matches(&lhs, folded), d.pattern(&lit, folded, true, true)),
        CompareOp::Sw => (
            d.matches(&lhs, folded),
            d.pattern(&lit, folded, false, true),
        ),
        CompareOp::Ew => (
            d.matches(&lhs, folded),
            d.pattern(&lit, folded, true, false),
        ),
    };
    exact(sql, vec![Arg::Text(arg)])
}

/// `emails[inner]`: some object element matches `inner` (a superset when it does not
/// translate exactly).
fn value_path(d: &dyn Dialect, scope: Scope<'_>, path: &AttrPath, inner: &Filter) -> Condition {
    let Scope::Row(table) = scope else {
        return Condition::any();
    };
    let Some(array) = attrs::array(table, path) else {
        return Condition::any();
    };
    exists(d, array, |doc| node(d, Scope::Element(doc), inner))
}
