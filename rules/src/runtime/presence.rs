//! Agents coming and going, as the runtime is told.

/// An Agent's presence on the MTP, from whoever knows it: in the
/// appliance, the broker's endpoint registry (connect / disconnect of an
/// MQTT or WebSocket session); with a remote broker, nothing but the
/// Agents' own Connect and DisconnectRecords, which the runtime maps onto
/// these by itself.
///
/// `Online` makes the engine put the Agent's subscriptions in place (or
/// repair them) and prime its cache; `Offline` marks it unreachable (steps
/// aimed at it fail at once) and fires `agent_offline` triggers. Telling
/// the same thing twice is harmless: a second `Online` re-checks the
/// subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AgentPresence {
    /// The Agent with this Endpoint ID is reachable.
    Online(String),
    /// The Agent with this Endpoint ID went away.
    Offline(String),
}

impl AgentPresence {
    /// The Agent's Endpoint ID.
    pub fn agent(&self) -> &str {
        match self {
            AgentPresence::Online(a) | AgentPresence::Offline(a) => a,
        }
    }
}
