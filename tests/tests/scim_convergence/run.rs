//! One run's generator: random SCIM operations in the forms Okta and Entra send, each
//! recorded in a trace and, when the receiver accepts it, in the model.

use std::fmt::Write as _;

use rand::rngs::StdRng;
use rand::Rng;
use reqwest::Method;
use serde_json::{json, Value};
use splashsync_protocol::{Email, JobKey};
use splashsync_test_support::{patch_op, TestApp};

use crate::model::{MGroup, MUser, Model, GROUPS, USERS};

/// One run: the system, the model, the generator and the trace of what was sent.
pub(crate) struct Run {
    pub(crate) app: TestApp,
    pub(crate) rng: StdRng,
    pub(crate) model: Model,
    pub(crate) trace: String,
    pub(crate) rejected: usize,
    pub(crate) reuse_emails: bool,
    /// Every job key the run created (users, groups, retirements), deleted ones included.
    pub(crate) keys: Vec<String>,
    /// Addresses that renames released, oldest first: later creates and renames take them.
    pub(crate) released: Vec<String>,
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
        self.send(Method::PATCH, path, Some(patch_op(ops)))
            .await
            .is_some()
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

    /// One random operation; `op` numbers it (names and emails carry it).
    pub(crate) async fn step(&mut self, op: usize) {
        match self.rng.random_range(0..100) {
            0..15 => self.create_user(op).await,
            15..23 => self.put_user(op).await,
            23..31 => self.patch_user(op).await,
            31..41 => self.set_active().await,
            41..51 => self.rename_user(op).await,
            51..57 => self.create_group(op).await,
            57..63 => self.rename_group(op).await,
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
        // Sometimes an address a rename released: the new user's jobs must queue behind the
        // retirement of the account under its former holder.
        let email = match self.released_address(0.3) {
            Some(email) => email,
            None if self.reuse_emails => format!("u{slot}@example.com"),
            None => format!("u{slot}-{op}@example.com"),
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

    /// One of the addresses renames released, with probability `p` (when there is one).
    fn released_address(&mut self, p: f64) -> Option<String> {
        if self.released.is_empty() || !self.rng.random_bool(p) {
            return None;
        }
        let i = self.rng.random_range(0..self.released.len());
        Some(self.released[i].clone())
    }

    /// A userName change (rename policy `reinvite`): Okta's GET-change-PUT or Entra's
    /// PATCH, to an address a rename released (held before by this or another user, maybe
    /// created after this one), to an empty slot's home address (which a later create there
    /// then finds taken, or reuses once released), or to a fresh one. An address a live
    /// user holds is refused with 409.
    async fn rename_user(&mut self, op: usize) {
        let Some(slot) = self.user_slot(true) else {
            return;
        };
        let user = self.model.user(slot).clone();
        let to = match self.released_address(0.4) {
            Some(to) => to,
            None if self.rng.random_bool(0.4) => {
                format!("u{}@example.com", self.rng.random_range(0..USERS))
            }
            None => format!("r{op}-u{slot}@example.com"),
        };
        if to.eq_ignore_ascii_case(&user.email) {
            return;
        }
        let path = format!("/Users/{}", user.id);
        let accepted = if self.rng.random_bool(0.5) {
            let Some(mut body) = self.send(Method::GET, &path, None).await else {
                return;
            };
            body["userName"] = json!(to);
            body["emails"] = json!([{"primary": true, "value": to, "type": "work"}]);
            self.send(Method::PUT, &path, Some(body)).await.is_some()
        } else {
            let ops = json!([
                {"op": "Replace", "path": "userName", "value": to},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": to}
            ]);
            self.patch(&path, ops).await
        };
        if accepted {
            let retired =
                JobKey::retirement(&Default::default(), &user.id, &Email::new(&user.email));
            self.keys.push(retired.to_string());
            self.released.push(user.email);
            self.model.user_mut(slot).email = to;
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
