//! The OpenAPI 3.1 description of the admin API, served at `/admin/openapi.json` without
//! a token (it describes the API and holds no data; every endpoint it lists needs one).
//!
//! Every schema is generated (schemars, JSON Schema 2020-12 as OpenAPI 3.1 uses it) from
//! the very types the handlers answer and read, and the query parameters from the query
//! types' fields, so the description follows the code; `tests/openapi.rs` checks real
//! answers against it.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};
use splashsync_protocol::admin::{
    route, BulkAnswer, BulkRequest, DiscardBody, ErrorBody, FilterParams, FloorQuery,
    IncidentDetail, IncidentDiscardBody, IncidentDiscarded, IncidentPage, IncidentQuery,
    IncidentReplayed, KeyFloor, WorkerList,
};

use splashsync_protocol::reconcile::{route as reconcile_route, ReconcileReport, ReconcileRequest};

use crate::responses::{
    DeadLetterList, DeadLetterShow, Discarded, GroupStatus, ReconcileRuns, ReconcileStarted,
    ReplayedMatching, ReplayedOne, Stats, UserStatus,
};

/// Where the schemas live in the document.
const SCHEMAS: &str = "/components/schemas";

fn generator(serialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = SCHEMAS.into();
        s.meta_schema = None;
    });
    let settings = if serialize {
        // Answers are closed: a field the document does not describe is a drift that the
        // schema test catches.
        settings
            .for_serialize()
            .with_transform(RecursiveTransform(|s: &mut Schema| {
                if s.get("properties").is_some() && s.get("additionalProperties").is_none() {
                    s.insert("additionalProperties".into(), false.into());
                }
            }))
    } else {
        settings.for_deserialize()
    };
    settings.into_generator()
}

/// Collects the schemas: answers as they are serialized, bodies as they are read.
struct Schemas {
    out: SchemaGenerator,
    r#in: SchemaGenerator,
}

impl Schemas {
    fn answer<T: JsonSchema>(&mut self, description: &str) -> Value {
        let schema = self.out.subschema_for::<T>();
        json!({
            "200": {"description": description, "content": {"application/json": {"schema": schema}}},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"},
            "409": {"$ref": "#/components/responses/Error"},
            "422": {"$ref": "#/components/responses/Error"},
        })
    }

    fn body<T: JsonSchema>(&mut self) -> Value {
        let schema = self.r#in.subschema_for::<T>();
        json!({"required": true, "content": {"application/json": {"schema": schema}}})
    }

    /// One optional query parameter per field of `T`, with the field's schema.
    fn query<T: JsonSchema>(&mut self) -> Value {
        let schema = schemars::schema_for!(T);
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let params: Vec<Value> = props
            .into_iter()
            .map(|(name, mut schema)| {
                let description = schema
                    .as_object_mut()
                    .and_then(|o| o.remove("description"))
                    .unwrap_or(Value::Null);
                json!({"name": name, "in": "query", "required": false,
                       "description": description, "schema": schema})
            })
            .collect();
        Value::Array(params)
    }

    fn into_components(mut self) -> Map<String, Value> {
        let mut all = self.r#in.take_definitions(true);
        all.extend(self.out.take_definitions(true));
        all
    }
}

fn path_param(name: &str, kind: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": kind}})
}

/// The document.
pub fn document() -> Value {
    let mut s = Schemas {
        out: generator(true),
        r#in: generator(false),
    };
    let id = || json!([path_param("id", "integer")]);
    let mut paths = Map::new();
    let mut add = |path: &str, op: Value| {
        paths.insert(path.to_string(), op);
    };
    add(
        route::DEAD_LETTERS,
        json!({"get": {
        "summary": "List dead-letter records (open ones by default), newest first, with the total",
        "parameters": s.query::<FilterParams>(),
        "responses": s.answer::<DeadLetterList>("a page of dead letters")}}),
    );
    add(
        route::REPLAY_MATCHING,
        json!({"post": {
        "summary": "Replay every open dead letter matching a filter (at most 1000); prefer incidents",
        "requestBody": s.body::<FilterParams>(),
        "responses": s.answer::<ReplayedMatching>("what was replayed")}}),
    );
    add(
        route::DEAD_LETTER,
        json!({"get": {
        "summary": "Show a dead letter: its job, every attempt and Splashtop's answers",
        "parameters": id(), "responses": s.answer::<DeadLetterShow>("the dead letter")}}),
    );
    add(
        route::REPLAY,
        json!({"post": {
        "summary": "Re-enqueue the key with its current directory state (never the stale body)",
        "parameters": id(), "responses": s.answer::<ReplayedOne>("the fresh job")}}),
    );
    add(
        route::DISCARD,
        json!({"post": {
        "summary": "Discard a dead letter with a note", "parameters": id(),
        "requestBody": s.body::<DiscardBody>(),
        "responses": s.answer::<Discarded>("the note kept")}}),
    );
    add(
        "/users/{userName}/status",
        json!({"get": {
        "summary": "A user's provisioning state, open incident and timeline",
        "parameters": [path_param("userName", "string")],
        "responses": s.answer::<UserStatus>("the user's state")}}),
    );
    add(
        route::GROUP_STATUS,
        json!({"get": {
        "summary": "A group's provisioning state, open incident and timeline",
        "parameters": [path_param("id", "string")],
        "responses": s.answer::<GroupStatus>("the group's state")}}),
    );
    add(
        route::FLOOR,
        json!({"get": {
        "summary": "A job key's newest directory version and its account's current holder (workers that lost their Redis state ask it)",
        "parameters": s.query::<FloorQuery>(),
        "responses": s.answer::<KeyFloor>("what the directory knows")}}),
    );
    add(
        route::QUEUES,
        json!({"get": {
        "summary": "Open incidents by cause, keys retrying now, the oldest waiting job, backlog per partition, outbox, drain rate",
        "responses": s.answer::<Stats>("the statistics")}}),
    );
    add(
        route::INCIDENTS,
        json!({"get": {
        "summary": "List incidents (open ones by default), latest failure first, with the total",
        "parameters": s.query::<IncidentQuery>(),
        "responses": s.answer::<IncidentPage>("a page of incidents")}}),
    );
    add(
        route::REPLAY_INCIDENTS,
        json!({"post": {
        "summary": "Replay every open incident of a filter: a first call counts and answers a token; sent back as confirm, it acts",
        "requestBody": s.body::<BulkRequest>(),
        "responses": s.answer::<BulkAnswer>("the count, or what was done")}}),
    );
    add(
        route::DISCARD_INCIDENTS,
        json!({"post": {
        "summary": "Discard every open incident of a filter with a note: count first, then confirm",
        "requestBody": s.body::<BulkRequest>(),
        "responses": s.answer::<BulkAnswer>("the count, or what was done")}}),
    );
    add(
        route::INCIDENT,
        json!({"get": {
        "summary": "Show an incident: its cause, what to do, its dead letters and its key's timeline",
        "parameters": id(), "responses": s.answer::<IncidentDetail>("the incident")}}),
    );
    add(
        route::REPLAY_INCIDENT,
        json!({"post": {
        "summary": "Replay an incident once: one fresh job with the key's current directory state",
        "parameters": id(), "responses": s.answer::<IncidentReplayed>("the fresh job")}}),
    );
    add(
        route::DISCARD_INCIDENT,
        json!({"post": {
        "summary": "Discard an incident with a note (and who decides)", "parameters": id(),
        "requestBody": s.body::<IncidentDiscardBody>(),
        "responses": s.answer::<IncidentDiscarded>("the note kept")}}),
    );
    add(
        route::WORKERS,
        json!({"get": {
        "summary": "Every worker heard from in the last week (live, quiet or stopped), from its heartbeats: host, pid, partitions, last heartbeat",
        "responses": s.answer::<WorkerList>("the workers, live first")}}),
    );
    let mut started = s.answer::<ReconcileStarted>("the run started");
    if let Some(r) = started.as_object_mut() {
        // A run is accepted (202), not done; 503 when the receiver has no Splashtop settings.
        if let Some(ok) = r.remove("200") {
            r.insert("202".into(), ok);
        }
        r.insert(
            "503".into(),
            json!({"$ref": "#/components/responses/Error"}),
        );
    }
    add(
        reconcile_route::RUNS,
        json!({
        "post": {
            "summary": "Start a drift reconciliation (one at a time: 409 while one runs; 503 when the receiver has no Splashtop settings)",
            "requestBody": s.body::<ReconcileRequest>(),
            "responses": started},
        "get": {
            "summary": "The newest reconciliation runs, without items",
            "parameters": [{"name": "limit", "in": "query", "required": false,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
            "responses": s.answer::<ReconcileRuns>("the newest runs")}}),
    );
    add(
        reconcile_route::RUN,
        json!({"get": {
        "summary": "One reconciliation run: what it read (pages), found and did, item by item",
        "parameters": id(), "responses": s.answer::<ReconcileReport>("the run's report")}}),
    );
    let error = s.out.subschema_for::<ErrorBody>();
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "splashsync admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Incidents (one per failing person or group, with the cause and what to do), \
                dead-letter records, provisioning status and timelines, queue statistics, workers, drift reconciliation. \
                Authenticate with the admin token (SPLASHSYNC_ADMIN_TOKEN) as a bearer token. \
                This document itself is served without a token: it describes the API and holds no data.",
        },
        "servers": [{"url": "/admin"}],
        "security": [{"adminToken": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "an error",
                "content": {"application/json": {"schema": error}}}},
            "schemas": s.into_components(),
        },
    })
}
