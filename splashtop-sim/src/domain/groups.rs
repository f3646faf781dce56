//! Group operations of the team: list, create, rename, delete (members move to the
//! default group), and the members of a group.

use splashtop_api::{ErrorCode, TeamGroup, TeamUser};

use super::error::ApiError;
use super::journal::Applied;
use super::paging::{Listing, PageRequest};
use super::rules;
use super::{new_id, Group, Team, User};

impl Team {
    /// One page of the groups, optionally only the one with this name
    /// (case-insensitive), sorted by name; and the next page's cursor.
    pub(crate) fn page_groups(
        &self,
        name: Option<&str>,
        page: &PageRequest,
    ) -> (Vec<TeamGroup>, Option<String>) {
        // Names are unique case-insensitively: the lowercase name is a unique sort key.
        let keyed = self
            .list_groups(name)
            .into_iter()
            .map(|g| (g.name.to_lowercase(), g));
        page.page(Listing::Groups, keyed)
    }

    /// Groups, optionally only the one with this name (case-insensitive), sorted by name.
    pub(crate) fn list_groups(&self, name: Option<&str>) -> Vec<TeamGroup> {
        let counts = self.member_counts();
        let mut groups: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| name.is_none_or(|n| g.name.to_lowercase() == n.to_lowercase()))
            .collect();
        groups.sort_by_key(|g| (g.name.to_lowercase(), g.name.clone()));
        groups
            .into_iter()
            .map(|g| self.group_wire(g, &counts))
            .collect()
    }

    /// One group, or 404 `group_not_found`.
    pub(crate) fn group(&self, group_id: &str) -> Result<TeamGroup, ApiError> {
        let group = self
            .groups
            .get(group_id)
            .ok_or_else(|| group_not_found(group_id))?;
        Ok(self.group_wire(group, &self.member_counts()))
    }

    /// The members of a group, sorted by email, or 404 `group_not_found`.
    pub(crate) fn members(&self, group_id: &str) -> Result<Vec<TeamUser>, ApiError> {
        self.group(group_id)?;
        let mut members: Vec<&User> = self
            .users
            .values()
            .filter(|u| u.group_id == group_id)
            .collect();
        members.sort_by_key(|u| u.email.to_lowercase());
        Ok(members.into_iter().map(|u| self.user_wire(u)).collect())
    }

    fn check_name_free(&self, name: &str, except: Option<&str>) -> Result<(), ApiError> {
        rules::validate_group_name(name)?;
        let taken = self.groups.values().find(|g| {
            Some(g.id.as_str()) != except && g.name.to_lowercase() == name.to_lowercase()
        });
        if let Some(group) = taken {
            return Err(ApiError::conflict(
                ErrorCode::GroupExists,
                format!(
                    "a group named {:?} already exists ({})",
                    group.name, group.id
                ),
            ));
        }
        self.rules.check_computer_group(name)
    }

    /// Creates a group.
    pub(crate) fn create_group(&mut self, name: &str) -> Result<(TeamGroup, Applied), ApiError> {
        self.check_name_free(name, None)?;
        if self.groups.len() >= self.rules.max_groups {
            return Err(ApiError::unprocessable(
                ErrorCode::GroupLimitReached,
                format!(
                    "the team has reached its limit of {} groups (the default group included)",
                    self.rules.max_groups
                ),
            ));
        }
        let group = Group {
            id: new_id("g"),
            name: name.to_owned(),
            is_default: false,
        };
        let id = group.id.clone();
        self.groups.insert(id.clone(), group);
        Ok((self.group(&id)?, applied_group("create_group", name, &id)))
    }

    /// Renames a group other than the default group.
    pub(crate) fn rename_group(
        &mut self,
        group_id: &str,
        name: &str,
    ) -> Result<(TeamGroup, Applied), ApiError> {
        self.mutable_group(group_id)?;
        self.check_name_free(name, Some(group_id))?;
        if let Some(group) = self.groups.get_mut(group_id) {
            group.name = name.to_owned();
        }
        Ok((
            self.group(group_id)?,
            applied_group("rename_group", name, group_id),
        ))
    }

    /// Deletes a group other than the default group; its members move to the default group.
    pub(crate) fn delete_group(&mut self, group_id: &str) -> Result<Applied, ApiError> {
        self.mutable_group(group_id)?;
        let Some(group) = self.groups.remove(group_id) else {
            return Err(group_not_found(group_id));
        };
        for user in self.users.values_mut().filter(|u| u.group_id == group_id) {
            user.group_id = self.default_group.clone();
        }
        Ok(applied_group("delete_group", &group.name, group_id))
    }

    fn mutable_group(&self, group_id: &str) -> Result<(), ApiError> {
        let group = self
            .groups
            .get(group_id)
            .ok_or_else(|| group_not_found(group_id))?;
        if group.is_default {
            return Err(ApiError::unprocessable(
                ErrorCode::DefaultGroupImmutable,
                "the default group cannot be renamed or deleted",
            ));
        }
        Ok(())
    }
}

fn applied_group(op: &'static str, name: &str, group_id: &str) -> Applied {
    Applied {
        op,
        email: None,
        group: Some(name.to_owned()),
        user_id: None,
        group_id: Some(group_id.to_owned()),
    }
}

pub(super) fn group_not_found(group_id: &str) -> ApiError {
    ApiError::not_found(
        ErrorCode::GroupNotFound,
        format!("no group {group_id} in this team"),
    )
}
