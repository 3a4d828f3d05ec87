//! # usp-rules
//!
//! The uspmesh rules engine, itself a USP Controller attached to the router
//! through an in-process link: the rule file model and its parser, rules
//! compiled into an index by path segment and event name, state and timers
//! that survive restarts, and the executor that answers ValueChange and Event
//! notifications with Operate / Set requests.
//!
//! None of it exists yet: this crate only holds its charter until issue 5 lands.
