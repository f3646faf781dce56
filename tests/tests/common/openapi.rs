//! Real answers checked against the OpenAPI document's schemas (shared by the test files
//! that include it with `#[path]`).

use serde_json::{json, Value};

/// Asserts that `body`, the 200 answer of `method path`, fits the schema `doc` gives it.
pub(crate) fn conforms(doc: &Value, method: &str, path: &str, body: &Value) {
    let schema =
        &doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "the document describes {method} {path}");
    let root = json!({"components": doc["components"], "allOf": [schema]});
    let validator = jsonschema::draft202012::new(&root).expect("a valid schema");
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{method} {path}: {errors:?}\n{body}");
}
