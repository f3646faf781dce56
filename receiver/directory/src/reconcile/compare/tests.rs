//! The comparison, case by case: each kind of drift, what is fixed, what is only
//! reported, and what waits for a job in flight.

use splashsync_protocol::job::{GroupRef, UserState};
use splashsync_protocol::reconcile::{DriftAction, DriftKind, ReconcileRequest};

use super::compare;
use crate::reconcile::{
    DirectoryView, Fix, FormerAccount, Hold, OwnedGroup, OwnedUser, SeenUser, Team,
};

fn owned(id: &str, email: &str, group: Option<&str>) -> OwnedUser {
    OwnedUser {
        key: format!("default/user/{id}"),
        version: 3,
        state: UserState {
            user_id: id.into(),
            user_name: email.into(),
            email: email.into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            display_name: "Ada Lovelace".into(),
            active: true,
            group: group.map(|g| GroupRef {
                group_id: format!("gid-{g}"),
                display_name: g.into(),
            }),
            sso_name: None,
            deleted: false,
            incarnation: None,
        },
        hold: Hold::Clear,
    }
}

fn seen(email: &str, group: Option<&str>) -> SeenUser {
    SeenUser {
        email: email.into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        display_name: "Ada Lovelace".into(),
        sso_name: None,
        group: group.map(str::to_string),
    }
}

fn group(name: &str) -> OwnedGroup {
    OwnedGroup {
        id: format!("gid-{name}"),
        key: format!("default/group/gid-{name}"),
        name: name.into(),
        version: 2,
        hold: Hold::Clear,
    }
}

fn kinds(plan: &crate::reconcile::Plan) -> Vec<(DriftKind, String, DriftAction)> {
    plan.items
        .iter()
        .map(|p| (p.item.kind, p.item.subject.clone(), p.item.action))
        .collect()
}

const REPORT: ReconcileRequest = ReconcileRequest {
    dry_run: false,
    prune: false,
};

#[test]
fn a_team_equal_to_the_directory_has_no_drift() {
    let team = Team {
        users: vec![seen("A@x.com", Some("SALES")), seen("b@x.com", None)],
        groups: vec!["Sales".into()],
    };
    let view = DirectoryView {
        users: vec![
            owned("u1", "a@x.com", Some("Sales")),
            owned("u2", "b@x.com", None),
        ],
        groups: vec![group("Sales")],
        ..DirectoryView::default()
    };
    let plan = compare(&team, &view, REPORT);
    assert_eq!(
        plan.items,
        vec![],
        "emails and group names compare case-insensitively"
    );
    assert!(plan.fixes.is_empty());
}

#[test]
fn names_sso_and_group_of_one_user_are_three_items_and_one_fix() {
    let mut s = seen("a@x.com", Some("Ops"));
    s.first_name = "Ann".into();
    s.sso_name = Some("Okta".into());
    let team = Team {
        users: vec![s],
        groups: vec!["Ops".into(), "Sales".into()],
    };
    let view = DirectoryView {
        users: vec![owned("u1", "a@x.com", Some("Sales"))],
        groups: vec![group("Sales"), group("Ops")],
        ..DirectoryView::default()
    };
    let plan = compare(&team, &view, REPORT);
    assert_eq!(
        kinds(&plan),
        vec![
            (DriftKind::Names, "a@x.com".into(), DriftAction::WouldFix),
            (DriftKind::SsoName, "a@x.com".into(), DriftAction::WouldFix),
            (DriftKind::Group, "a@x.com".into(), DriftAction::WouldFix),
        ]
    );
    assert_eq!(
        plan.fixes,
        vec![Fix::User {
            id: "u1".into(),
            version: 3
        }]
    );
    assert!(plan.items.iter().all(|p| p.fix == Some(0)));
    let group_item = &plan.items[2].item;
    assert_eq!(
        (group_item.found.as_str(), group_item.wanted.as_str()),
        ("Ops", "Sales")
    );
}

#[test]
fn a_missing_user_is_fixed_and_a_deactivated_one_present_is_a_status_drift() {
    let mut gone = owned("u2", "b@x.com", None);
    gone.state.active = false;
    let mut away = owned("u3", "c@x.com", None);
    away.state.active = false;
    let team = Team {
        users: vec![seen("b@x.com", None)],
        groups: vec![],
    };
    let view = DirectoryView {
        users: vec![owned("u1", "a@x.com", None), gone, away],
        ..DirectoryView::default()
    };
    let plan = compare(&team, &view, REPORT);
    assert_eq!(
        kinds(&plan),
        vec![
            (DriftKind::Missing, "a@x.com".into(), DriftAction::WouldFix),
            (DriftKind::Status, "b@x.com".into(), DriftAction::WouldFix),
        ],
        "a deactivated user absent from the team is as wanted"
    );
    assert_eq!(plan.fixes.len(), 2);
}

#[test]
fn an_unmanaged_account_is_reported_and_pruned_only_when_asked() {
    let team = Team {
        users: vec![seen("stranger@x.com", None)],
        groups: vec!["Hand made".into()],
    };
    let view = DirectoryView::default();
    let plan = compare(&team, &view, REPORT);
    assert_eq!(
        kinds(&plan),
        vec![
            (
                DriftKind::Unmanaged,
                "stranger@x.com".into(),
                DriftAction::Reported
            ),
            (
                DriftKind::GroupUnmanaged,
                "Hand made".into(),
                DriftAction::Reported
            ),
        ]
    );
    assert!(plan.fixes.is_empty());
    let prune = ReconcileRequest {
        dry_run: false,
        prune: true,
    };
    let plan = compare(&team, &view, prune);
    assert_eq!(plan.items[0].item.action, DriftAction::WouldPrune);
    assert!(matches!(&plan.fixes[..], [Fix::Prune { user }] if user.email == "stranger@x.com"));
    assert_eq!(
        plan.items[1].item.action,
        DriftAction::Reported,
        "groups are never pruned"
    );
}

#[test]
fn an_account_the_directory_deleted_is_removed_with_its_newest_incarnation() {
    let team = Team {
        users: vec![seen("Old@x.com", None)],
        groups: vec![],
    };
    let mut view = DirectoryView::default();
    view.former.insert(
        "old@x.com".into(),
        FormerAccount {
            key: "default/user/u9".into(),
            version: 4,
            hold: Hold::Clear,
        },
    );
    let plan = compare(&team, &view, REPORT);
    assert_eq!(
        kinds(&plan),
        vec![(DriftKind::Status, "Old@x.com".into(), DriftAction::WouldFix)]
    );
    assert_eq!(
        plan.fixes,
        vec![Fix::Gone {
            email: "Old@x.com".into(),
            key: "default/user/u9".into(),
            version: 4
        }]
    );
}

#[test]
fn a_key_with_a_job_in_flight_is_pending_and_a_dead_lettered_one_waits_for_an_operator() {
    let mut busy = owned("u1", "a@x.com", Some("Sales"));
    busy.hold = Hold::Pending;
    let mut stuck = owned("u2", "b@x.com", None);
    stuck.hold = Hold::DeadLettered;
    let mut renamed = group("Sales");
    renamed.hold = Hold::Pending;
    let team = Team {
        users: vec![seen("a@x.com", None)],
        groups: vec![],
    };
    let view = DirectoryView {
        users: vec![busy, stuck],
        groups: vec![renamed],
        ..DirectoryView::default()
    };
    let plan = compare(&team, &view, REPORT);
    assert_eq!(
        kinds(&plan),
        vec![
            (
                DriftKind::Missing,
                "b@x.com".into(),
                DriftAction::DeadLettered
            ),
            (DriftKind::Group, "a@x.com".into(), DriftAction::Pending),
            (
                DriftKind::GroupMissing,
                "Sales".into(),
                DriftAction::Pending
            ),
        ]
    );
    assert!(plan.fixes.is_empty(), "nothing is written for held keys");
}

#[test]
fn a_missing_group_is_fixed_by_its_own_job() {
    let team = Team::default();
    let view = DirectoryView {
        groups: vec![group("Sales")],
        ..DirectoryView::default()
    };
    let plan = compare(&team, &view, REPORT);
    assert_eq!(
        plan.fixes,
        vec![Fix::Group {
            id: "gid-Sales".into(),
            version: 2
        }]
    );
    assert_eq!(
        plan.items[0].item.key.as_deref(),
        Some("default/group/gid-Sales")
    );
}
