//! Who may do what, decided in one place: every use case in the backend takes the caller
//! (`&Principal`) and asks here before it reads or writes. The `/api/v1` handlers and the
//! Leptos server functions only translate; a new route cannot skip a check that the service
//! it calls makes itself.
use crate::backend::auth::{Principal, Via};
use crate::domain::access::Role;

/// A refusal: the caller's role, scopes or ownership do not allow it. Always answered 403,
/// with a code scripts can match and a sentence that says what would be allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denied {
    pub code: &'static str,
    pub message: String,
    /// The request field that the refusal is about, when there is one.
    pub field: Option<&'static str>,
}

impl Denied {
    pub fn new(code: &'static str, message: impl Into<String>) -> Denied {
        Denied { code, message: message.into(), field: None }
    }

    pub fn on(mut self, field: &'static str) -> Denied {
        self.field = Some(field);
        self
    }
}

impl Principal {
    /// Gatehouse itself (seeding, start-up migrations, background work): an admin that is
    /// nobody's session.
    pub fn system(name: &str) -> Principal {
        Principal { user_id: 0, name: name.to_owned(), role: Role::Admin, scopes: Default::default(), via: Via::System }
    }

    /// The caller holds at least `role`; `what` finishes "only … may": "change pools".
    pub fn require(&self, role: Role, what: &str) -> Result<(), Denied> {
        if self.role >= role {
            return Ok(());
        }
        let who = match role {
            Role::Admin => "admins".to_owned(),
            role => format!("the {} role or above", role.label()),
        };
        Err(Denied::new("forbidden", format!("only {who} may {what}; you are {}", self.role.label())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_below_the_one_needed_is_refused_with_what_would_be_allowed() {
        let mut caller = Principal::system("seed");
        assert_eq!(caller.require(Role::Admin, "manage users"), Ok(()));
        caller.role = Role::AppTeam;
        let denied = caller.require(Role::NetworkAdmin, "change pools").unwrap_err();
        assert_eq!(denied.code, "forbidden");
        assert_eq!(denied.message, "only the network admin role or above may change pools; you are app team");
    }
}
