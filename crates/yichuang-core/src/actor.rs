//! Actors and authorization (角色与权限): who may issue which command.
//!
//! Rules (DESIGN §4.3 invariant 7): a department acts only on its own tasks; intake clerks accept
//! but never decide (受审分离); only the applicant, or a clerk on the applicant's behalf at a
//! window, submits, resubmits, supplies and rates; nobody supervises their own department.

use serde::{Deserialize, Serialize};

use crate::definition::Id;

/// A role with the scope it acts in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// 申请人: a person or company applying.
    Applicant,
    /// 窗口工作人员: a clerk of one window; the window's class (consult, intake, delivery) sets
    /// what the clerk may do.
    Clerk {
        /// The window id.
        window: Id,
    },
    /// 审批人员: a reviewer of one department.
    Reviewer {
        /// The department id.
        department: Id,
    },
    /// 效能监察人员: a supervisor, member of a department (normally the supervision section).
    Supervisor {
        /// The supervisor's own department.
        department: Id,
    },
    /// 分管领导: a leader (accountable in the plan; may interview, 约谈).
    Leader,
    /// 系统管理员: manages definitions and accounts; decides nothing.
    Admin,
    /// The engine itself, firing timers.
    System,
}

/// Someone acting: a stable person id and a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Stable id of the person (or applicant, or `system`).
    pub id: Id,
    /// Role and scope.
    pub role: Role,
}

impl Actor {
    /// An applicant.
    pub fn applicant(id: &str) -> Actor {
        Actor { id: Id::new(id), role: Role::Applicant }
    }
    /// A clerk at a window.
    pub fn clerk(id: &str, window: &str) -> Actor {
        Actor { id: Id::new(id), role: Role::Clerk { window: Id::new(window) } }
    }
    /// A reviewer of a department.
    pub fn reviewer(id: &str, department: &str) -> Actor {
        Actor { id: Id::new(id), role: Role::Reviewer { department: Id::new(department) } }
    }
    /// A supervisor belonging to a department.
    pub fn supervisor(id: &str, department: &str) -> Actor {
        Actor { id: Id::new(id), role: Role::Supervisor { department: Id::new(department) } }
    }
    /// A leader.
    pub fn leader(id: &str) -> Actor {
        Actor { id: Id::new(id), role: Role::Leader }
    }
    /// An administrator.
    pub fn admin(id: &str) -> Actor {
        Actor { id: Id::new(id), role: Role::Admin }
    }
    /// The engine's timer actor.
    pub fn system() -> Actor {
        Actor { id: Id::new("system"), role: Role::System }
    }
    /// Short description for messages, e.g. `reviewer r1 of market-access`.
    pub fn describe(&self) -> String {
        match &self.role {
            Role::Applicant => format!("applicant {}", self.id),
            Role::Clerk { window } => format!("clerk {} at window {window}", self.id),
            Role::Reviewer { department } => format!("reviewer {} of {department}", self.id),
            Role::Supervisor { department } => format!("supervisor {} of {department}", self.id),
            Role::Leader => format!("leader {}", self.id),
            Role::Admin => format!("admin {}", self.id),
            Role::System => "the system".to_owned(),
        }
    }
}

/// The time and actor of a command: the context every decision receives.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// When the command happens.
    pub now: crate::time::Instant,
    /// Who issues it.
    pub actor: &'a Actor,
}
