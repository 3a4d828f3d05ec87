//! Glue between the crates, which know nothing of each other: `usp-broker`
//! and `usp-rules` both depend on `usp-endpoint`, never on one another.
//!
//! * [`local_link`]: the broker's in-process [`usp_broker::LocalLink`] as a
//!   [`usp_endpoint::mtp::Link`], so the rules runtime (or any Controller
//!   client) runs inside the appliance without a socket;
//! * [`presence`]: the broker registry's reachable / disconnect events as
//!   the rules runtime's [`usp_rules::runtime::AgentPresence`].

pub mod local_link;
pub mod presence;
