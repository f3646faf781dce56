//! The OpenAPI 3.1 description of the admin API, served at `/admin/openapi.json` without
//! a token (it describes the API and holds no data; every endpoint it lists needs one).

use serde_json::{json, Value};

fn filter_params() -> Value {
    let p = |name: &str, description: &str| json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}});
    json!([
        p("reason", "exact reason: permanent, retry_budget_exhausted, undecodable, delivery_limit"),
        p("tenant", "exact tenant"),
        p("key", "exact job key, e.g. default/user/<id>"),
        p("state", "open (default), replayed, discarded or all"),
        p("older_than", "received at least this long ago: 90s, 15m, 2h, 7d or seconds"),
        p("newer_than", "received at most this long ago, same spelling"),
        {"name": "limit", "in": "query", "required": false, "description": "1 to 1000, default 100",
         "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    ])
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}})
}

fn ok(description: &str) -> Value {
    json!({
        "200": {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}},
        "400": {"$ref": "#/components/responses/Error"},
        "401": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"},
        "409": {"$ref": "#/components/responses/Error"},
    })
}

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "splashsync admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Dead letters, provisioning status and timelines, queue statistics, drift reconciliation. \
                Authenticate with the admin token (SPLASHSYNC_ADMIN_TOKEN) as a bearer token. \
                This document itself is served without a token: it describes the API and holds no data.",
        },
        "servers": [{"url": "/admin"}],
        "security": [{"adminToken": []}],
        "paths": {
            "/dead-letters": {"get": {
                "summary": "List dead letters, newest first", "parameters": filter_params(),
                "responses": ok("{count, dead_letters: [DeadLetter]}")}},
            "/dead-letters/replay": {"post": {
                "summary": "Replay every open dead letter matching a filter (at most 1000)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Filter"}}}},
                "responses": ok("{replayed: [Replayed], failed: [{id, status, message}]}")}},
            "/dead-letters/{id}": {"get": {
                "summary": "Show a dead letter: its job, every attempt and Splashtop's answers",
                "parameters": [id_param()], "responses": ok("{dead_letter, attempts, status}")}},
            "/dead-letters/{id}/replay": {"post": {
                "summary": "Re-enqueue the key with its current directory state (never the stale body)",
                "parameters": [id_param()], "responses": ok("{replayed: Replayed}")}},
            "/dead-letters/{id}/discard": {"post": {
                "summary": "Discard a dead letter with a note",
                "parameters": [id_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["note"], "additionalProperties": false,
                    "properties": {"note": {"type": "string", "maxLength": 2000}}}}}},
                "responses": ok("{discarded, note}")}},
            "/users/{userName}/status": {"get": {
                "summary": "A user's provisioning state and timeline",
                "parameters": [{"name": "userName", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": ok("{userName, id, key, status, timeline}")}},
            "/groups/{id}/status": {"get": {
                "summary": "A group's provisioning state and timeline",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": ok("{id, key, status, timeline}")}},
            "/reconcile": {
                "post": {
                    "summary": "Start a drift reconciliation (one at a time: 409 while one runs; 503 when the receiver has no Splashtop settings)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": false, "properties": {
                            "dry_run": {"type": "boolean", "default": false},
                            "prune": {"type": "boolean", "default": false}}}}}},
                    "responses": {"202": {"description": "{run, report}: the run id and its report's path"},
                        "400": {"$ref": "#/components/responses/Error"},
                        "409": {"$ref": "#/components/responses/Error"},
                        "503": {"$ref": "#/components/responses/Error"}}},
                "get": {
                    "summary": "The newest reconciliation runs, without items",
                    "parameters": [{"name": "limit", "in": "query", "required": false,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                    "responses": ok("{count, runs: [ReconcileReport]}")}},
            "/reconcile/{id}": {"get": {
                "summary": "One reconciliation run: what it read (pages), found and did, item by item",
                "parameters": [id_param()], "responses": ok("ReconcileReport")}},
            "/queues": {"get": {
                "summary": "Backlog per partition, outbox depth and age, dead letters by reason, drain rate",
                "responses": ok("{partitions, queues, broker_error, outbox, dead_letters_open, drain_rate_per_minute}")}},
        },
        "components": {
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "an error", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"error": {"type": "object", "properties": {
                    "status": {"type": "integer"}, "message": {"type": "string"}}}}}}}}},
            "schemas": {"Filter": {"type": "object", "additionalProperties": false, "properties": {
                "reason": {"type": "string"}, "tenant": {"type": "string"}, "key": {"type": "string"},
                "state": {"type": "string", "enum": ["open"]},
                "older_than": {"type": "string"}, "newer_than": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000}}}},
        },
    })
}
