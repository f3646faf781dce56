//! Issue 4's property test, driven through the real receiver over SCIM: random sequences
//! of user and group operations (creates, PUT and PATCH profile updates, deactivations and
//! reactivations, group creates, renames, membership moves, group and user deletes) go to
//! the receiver, RabbitMQ and two workers against a simulator injecting faults. Afterwards
//! the simulated team equals the directory as the receiver answered it, the versions
//! applied per user key never decrease, and nothing is dead-lettered.
//!
//! `SPLASHSYNC_PROP_SEED=<n>` replays one seed (the operations; the simulator's faults are
//! random); otherwise three random seeds run. A deleted user is re-created with the same
//! userName, as identity providers do; `SPLASHSYNC_PROP_FRESH_EMAILS=1` gives each
//! incarnation its own email instead (see `create_user`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use splashsync_receiver::store::audit::sqlite::SqliteAudit;
use splashsync_receiver::store::audit::{state, AuditStore};
use splashsync_receiver::store::sqlite::SqliteDirectory;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};
use splashsync_protocol::DeadLetterHeaders;
use splashsync_test_support::{eventually, versions_never_decrease, Options, TestApp};
use splashtop_sim::{Faults, SimConfig};

const USERS: usize = 5;
const GROUPS: usize = 3;

#[derive(Debug, Clone)]
struct MUser {
    id: String,
    email: String,
    given: String,
    family: String,
    display: Option<String>,
    active: bool,
    group: Option<usize>,
}

#[derive(Debug, Clone)]
struct MGroup {
    id: String,
    name: String,
}

/// The directory as the receiver answered it (2xx only), by user and group slot.
#[derive(Debug, Default)]
struct Model {
    users: [Option<MUser>; USERS],
    groups: [Option<MGroup>; GROUPS],
}

/// email → (first, last, display, group name); group names with `is_default`.
type Team = (
    BTreeMap<String, (String, String, String, String)>,
    BTreeSet<(String, bool)>,
);

impl Model {
    fn expected(&self) -> Team {
        let users = self
            .users
            .iter()
            .flatten()
            .filter(|u| u.active)
            .map(|u| {
                let display = u
                    .display
                    .clone()
                    .unwrap_or_else(|| format!("{} {}", u.given, u.family).trim().to_string());
                let group = u.group.map_or("Default".to_string(), |g| {
                    self.groups[g]
                        .as_ref()
                        .expect("member of a live group")
                        .name
                        .clone()
                });
                (
                    u.email.clone(),
                    (u.given.clone(), u.family.clone(), display, group),
                )
            })
            .collect();
        let mut groups: BTreeSet<(String, bool)> = self
            .groups
            .iter()
            .flatten()
            .map(|g| (g.name.clone(), false))
            .collect();
        groups.insert(("Default".to_string(), true));
        (users, groups)
    }

    fn user(&self, slot: usize) -> &MUser {
        self.users[slot].as_ref().expect("a live user")
    }

    fn user_mut(&mut self, slot: usize) -> &mut MUser {
        self.users[slot].as_mut().expect("a live user")
    }

    fn gid(&self, slot: usize) -> String {
        self.groups[slot].as_ref().expect("a live group").id.clone()
    }
}

fn observed(state: &Value) -> Team {
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let users = state["users"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            let fields = (
                text(u, "first_name"),
                text(u, "last_name"),
                text(u, "display_name"),
                text(u, "group"),
            );
            (text(u, "email"), fields)
        })
        .collect();
    let groups = state["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| (text(g, "name"), g["is_default"] == true))
        .collect();
    (users, groups)
}

/// One run: the system, the model, the generator and the trace of what was sent.
struct Run {
    app: TestApp,
    rng: StdRng,
    model: Model,
    trace: String,
    rejected: usize,
    reuse_emails: bool,
    /// Every job key the run created (users and groups), deleted ones included.
    keys: Vec<String>,
}

impl Run {
    /// Sends one request and records it; the answer's body when it is a 2xx.
    async fn send(&mut self, method: Method, path: &str, body: Option<Value>) -> Option<Value> {
        let mut request = self.app.scim(method.clone(), path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the receiver answers");
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let sent = body.map_or(String::new(), |b| b.to_string());
        let _ = writeln!(self.trace, "{method} {path} {sent} -> {}", status.as_u16());
        if method == Method::POST && status.is_success() {
            if let Some(id) = answer["id"].as_str() {
                self.keys.push(match path {
                    "/Groups" => {
                        splashsync_protocol::JobKey::group(&Default::default(), id).to_string()
                    }
                    _ => splashsync_protocol::JobKey::user(&Default::default(), id).to_string(),
                });
            }
        }
        if !status.is_success() {
            self.rejected += 1;
            let _ = writeln!(self.trace, "    refused: {answer}");
        }
        status.is_success().then_some(answer)
    }

    /// `PATCH path` with `ops`; whether the receiver accepted it.
    async fn patch(&mut self, path: &str, ops: Value) -> bool {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": ops});
        self.send(Method::PATCH, path, Some(body)).await.is_some()
    }

    /// A random slot among `found`.
    fn choose(&mut self, found: Vec<usize>) -> Option<usize> {
        (!found.is_empty()).then(|| found[self.rng.random_range(0..found.len())])
    }

    fn user_slot(&mut self, live: bool) -> Option<usize> {
        self.choose(
            (0..USERS)
                .filter(|&i| self.model.users[i].is_some() == live)
                .collect(),
        )
    }

    fn group_slot(&mut self, live: bool) -> Option<usize> {
        self.choose(
            (0..GROUPS)
                .filter(|&i| self.model.groups[i].is_some() == live)
                .collect(),
        )
    }

    async fn step(&mut self, op: usize) {
        match self.rng.random_range(0..100) {
            0..15 => self.create_user(op).await,
            15..25 => self.put_user(op).await,
            25..35 => self.patch_user(op).await,
            35..47 => self.set_active().await,
            47..55 => self.create_group(op).await,
            55..63 => self.rename_group(op).await,
            63..85 => self.move_member().await,
            85..92 => self.delete_group().await,
            _ => self.delete_user().await,
        }
    }

    async fn create_user(&mut self, op: usize) {
        let Some(slot) = self.user_slot(false) else {
            return;
        };
        // A re-created user keeps its slot's email, as identity providers do: its jobs must
        // queue behind its deleted predecessor's (they share the Splashtop account, hence the
        // partition), or a late job of the old user acts on the new one.
        let email = match self.reuse_emails {
            true => format!("u{slot}@example.com"),
            false => format!("u{slot}-{op}@example.com"),
        };
        let (given, family) = (format!("G{op}"), format!("F{op}"));
        let display = self.rng.random_bool(0.5).then(|| format!("D{op}"));
        let active = self.rng.random_bool(0.9);
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email, "name": {"givenName": given, "familyName": family},
            "emails": [{"primary": true, "value": email, "type": "work"}],
            "externalId": format!("ext-{op}"), "password": "1mz050nq", "active": active
        });
        if let Some(d) = &display {
            body["displayName"] = json!(d);
        }
        if let Some(created) = self.send(Method::POST, "/Users", Some(body)).await {
            let id = created["id"].as_str().expect("an id").to_string();
            self.model.users[slot] = Some(MUser {
                id,
                email,
                given,
                family,
                display,
                active,
                group: None,
            });
        }
    }

    /// Okta's profile update: GET, change, PUT the whole resource back.
    async fn put_user(&mut self, op: usize) {
        let Some(slot) = self.user_slot(true) else {
            return;
        };
        let mut user = self.model.user(slot).clone();
        let path = format!("/Users/{}", user.id);
        let Some(mut body) = self.send(Method::GET, &path, None).await else {
            return;
        };
        user.given = format!("PG{op}");
        body["name"]["givenName"] = json!(user.given);
        if self.rng.random_bool(0.5) {
            user.family = format!("PF{op}");
            body["name"]["familyName"] = json!(user.family);
        }
        if self.rng.random_bool(0.5) {
            user.display = Some(format!("PD{op}"));
            body["displayName"] = json!(user.display);
        }
        if self.send(Method::PUT, &path, Some(body)).await.is_some() {
            self.model.users[slot] = Some(user);
        }
    }

    /// Okta's and Entra's PATCH forms: a path, path-less dotted keys, a removal.
    async fn patch_user(&mut self, op: usize) {
        let Some(slot) = self.user_slot(true) else {
            return;
        };
        let mut user = self.model.user(slot).clone();
        let ops = match self.rng.random_range(0..3) {
            0 => {
                user.given = format!("XG{op}");
                json!([{"op": "replace", "path": "name.givenName", "value": user.given}])
            }
            1 => {
                user.family = format!("XF{op}");
                user.display = Some(format!("XD{op}"));
                json!([{"op": "Replace", "value":
                    {"name.familyName": user.family, "displayName": user.display}}])
            }
            _ => {
                user.display = None;
                json!([{"op": "remove", "path": "displayName"}])
            }
        };
        if self.patch(&format!("/Users/{}", user.id), ops).await {
            self.model.users[slot] = Some(user);
        }
    }

    /// Deactivation or reactivation: Okta's path-less PATCH.
    async fn set_active(&mut self) {
        let Some(slot) = self.user_slot(true) else {
            return;
        };
        let (id, active) = (
            self.model.user(slot).id.clone(),
            !self.model.user(slot).active,
        );
        let ops = json!([{"op": "replace", "value": {"active": active}}]);
        if self.patch(&format!("/Users/{id}"), ops).await {
            self.model.user_mut(slot).active = active;
        }
    }

    async fn create_group(&mut self, op: usize) {
        let Some(slot) = self.group_slot(false) else {
            return;
        };
        // A new group in a slot takes the slot's name, which a deleted group of the slot
        // may have had: its delete and this create must not race on Splashtop (renames
        // give unique names, so the slot's name is free in the directory here).
        let name = if self.rng.random_bool(0.5) {
            format!("Group{slot}")
        } else {
            format!("Group{slot}-{op}")
        };
        // Sometimes with a member that has no group yet (policy `reject`).
        let free = (0..USERS)
            .filter(|&u| {
                self.model.users[u]
                    .as_ref()
                    .is_some_and(|u| u.group.is_none())
            })
            .collect();
        let member = self.choose(free).filter(|_| self.rng.random_bool(0.4));
        let members: Vec<Value> = member
            .iter()
            .map(|&u| json!({"value": self.model.user(u).id}))
            .collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name, "members": members});
        if let Some(created) = self.send(Method::POST, "/Groups", Some(body)).await {
            let id = created["id"].as_str().expect("an id").to_string();
            self.model.groups[slot] = Some(MGroup { id, name });
            if let Some(u) = member {
                self.model.user_mut(u).group = Some(slot);
            }
        }
    }

    /// Okta's path form or the path-less form with the id in the value.
    async fn rename_group(&mut self, op: usize) {
        let Some(slot) = self.group_slot(true) else {
            return;
        };
        let id = self.model.gid(slot);
        let name = format!("Group{slot}-{op}");
        let ops = match self.rng.random_bool(0.5) {
            true => json!([{"op": "replace", "path": "displayName", "value": name}]),
            false => json!([{"op": "replace", "value": {"id": id, "displayName": name}}]),
        };
        if self.patch(&format!("/Groups/{id}"), ops).await {
            self.model.groups[slot].as_mut().expect("live").name = name;
        }
    }

    /// Out of the current group (Okta's filter form or Entra's value array), then
    /// maybe into another: the default policy `reject` needs the removal first.
    async fn move_member(&mut self) {
        let Some(slot) = self.user_slot(true) else {
            return;
        };
        let (uid, from) = (
            self.model.user(slot).id.clone(),
            self.model.user(slot).group,
        );
        if let Some(g) = from {
            let ops = match self.rng.random_bool(0.5) {
                true => json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]),
                false => json!([{"op": "Remove", "path": "members",
                    "value": [{"$ref": null, "value": uid}]}]),
            };
            if !self
                .patch(&format!("/Groups/{}", self.model.gid(g)), ops)
                .await
            {
                return;
            }
            self.model.user_mut(slot).group = None;
            if self.rng.random_bool(0.2) {
                return;
            }
        }
        let targets = (0..GROUPS)
            .filter(|&g| self.model.groups[g].is_some() && Some(g) != from)
            .collect();
        let Some(to) = self.choose(targets) else {
            return;
        };
        let ops = json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]);
        if self
            .patch(&format!("/Groups/{}", self.model.gid(to)), ops)
            .await
        {
            self.model.user_mut(slot).group = Some(to);
        }
    }

    async fn delete_group(&mut self) {
        let Some(slot) = self.group_slot(true) else {
            return;
        };
        let path = format!("/Groups/{}", self.model.gid(slot));
        if self.send(Method::DELETE, &path, None).await.is_some() {
            self.model.groups[slot] = None;
            for u in self.model.users.iter_mut().flatten() {
                u.group = u.group.filter(|&g| g != slot);
            }
        }
    }

    async fn delete_user(&mut self) {
        let Some(slot) = self.user_slot(true) else {
            return;
        };
        let path = format!("/Users/{}", self.model.user(slot).id);
        if self.send(Method::DELETE, &path, None).await.is_some() {
            self.model.users[slot] = None;
        }
    }
}

/// Takes every dead letter: "reason: body".
async fn dead_letters(app: &TestApp) -> Vec<String> {
    let link = app.publisher().await;
    let dead = link.drain_dead_letters().await;
    link.close().await;
    dead.into_iter()
        .map(|(headers, body)| {
            let reason = DeadLetterHeaders::decode(&headers).reason;
            format!("{reason}: {}", String::from_utf8_lossy(&body))
        })
        .collect()
}

/// The simulator's log, one line per applied operation.
fn log_lines(log: &[splashtop_sim::LogEntry]) -> String {
    log.iter().fold(String::new(), |mut out, e| {
        let (key, v) = (e.key.as_deref().unwrap_or("-"), e.version.unwrap_or(-1));
        let email = e.email.as_deref().unwrap_or("-");
        let group = e.group.as_deref().unwrap_or("-");
        let _ = writeln!(
            out,
            "  #{} {} {email} group={group} key={key} v={v} -> {}",
            e.seq, e.op, e.status
        );
        out
    })
}

async fn run_case(seed: u64) {
    let faults = Faults {
        error_rate: 0.05,
        error_after_apply_rate: 0.05,
        throttle_rate: 0.03,
        reset_rate: 0.02,
        retry_after_secs: 1,
        ..Faults::default()
    };
    let sim = SimConfig {
        faults,
        ..SimConfig::default()
    };
    let app = TestApp::spawn_with(Options {
        worker: false,
        sim,
        ..Options::default()
    })
    .await;
    let workers = [
        app.start_extra_worker(0).await,
        app.start_extra_worker(0).await,
    ];
    let mut rng = StdRng::seed_from_u64(seed);
    let ops = rng.random_range(40..=60);
    let mut run = Run {
        app,
        rng,
        model: Model::default(),
        trace: String::new(),
        rejected: 0,
        reuse_emails: std::env::var_os("SPLASHSYNC_PROP_FRESH_EMAILS").is_none(),
        keys: Vec::new(),
    };
    for op in 0..ops {
        run.step(op).await;
    }
    let expected = run.model.expected();
    // Converged means quiet too: every key's latest job has an outcome (applied or
    // dead-lettered), so nothing in flight can move the team again. A snapshot that merely
    // matches can be a passing moment (the empty team before anything was applied).
    let directory = SqliteDirectory::open(&run.app.database_url())
        .await
        .expect("the directory opens");
    let audit = SqliteAudit::new(&directory);
    let context = format!(
        "seed {seed} (SPLASHSYNC_PROP_SEED={seed}), {} refused\nsequence:\n{}\nmodel: {:#?}\n\
         expected: {expected:#?}",
        run.rejected, run.trace, run.model
    );
    let sim = &run.app.sim;
    let seen = |state: &Value| format!("sim log:\n{}sim state: {state:#}", log_lines(&sim.log()));
    eventually(
        Duration::from_secs(90),
        &format!("the team to converge with every key settled; {context}"),
        || async {
            let state = sim.snapshot();
            if observed(&state) != expected {
                return Err(seen(&state));
            }
            match unsettled(&audit, &run.keys).await {
                Some(key) => Err(format!("{key} has no final outcome yet; {}", seen(&state))),
                None => Ok(()),
            }
        },
    )
    .await;
    // Nothing still in flight may move it away again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let state = sim.snapshot();
    assert_eq!(observed(&state), expected, "{context}\n{}", seen(&state));
    if let Err(e) = versions_never_decrease(&sim.log()) {
        panic!("{e}\n{context}\n{}", seen(&state));
    }
    let dead = dead_letters(&run.app).await;
    assert!(
        dead.is_empty(),
        "dead letters: {dead:#?}\n{context}\n{}",
        seen(&state)
    );
    let (users, groups) = expected;
    eprintln!(
        "seed {seed}: {ops} operations ({} refused) converged to {} users, {} groups; sim stats {}",
        run.rejected,
        users.len(),
        groups.len(),
        run.app.sim.stats()
    );
    for w in workers {
        w.stop().await;
    }
    run.app.shutdown().await;
}

/// The first key whose latest job has no final outcome in the receiver's audit log.
async fn unsettled<'k>(audit: &SqliteAudit, keys: &'k [String]) -> Option<&'k str> {
    for key in keys {
        match audit.status(key.clone()).await {
            Ok(Some(s)) if s.state == state::APPLIED || s.state == state::DEAD_LETTERED => {}
            _ => return Some(key),
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_scim_sequences_converge_splashtop_through_faults() {
    let seeds: Vec<u64> = match std::env::var("SPLASHSYNC_PROP_SEED") {
        Ok(s) => vec![s.trim().parse().expect("SPLASHSYNC_PROP_SEED is a u64")],
        Err(_) => (0..3).map(|_| rand::rng().random()).collect(),
    };
    for seed in seeds {
        eprintln!("property case seed {seed} (rerun with SPLASHSYNC_PROP_SEED={seed})");
        run_case(seed).await;
    }
}
