//! The state machines of the hall: the case (办件) with one approval task (审批任务) per member
//! item, the SLA overlay (时限监控) on both, and the ticket (问题) of the loop
//! 评价 → 反馈 → 整改 → 监督.

pub mod case;
pub mod sla;
pub mod spec;
pub mod task;
pub mod ticket;
