//! What the Agent hands back from each call: the Records to send.

use crate::controller::Transmit;

/// The Records an Agent call produced, in the order they must be sent
/// (a response before the notifications its request caused).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    transmits: Vec<Transmit>,
}

impl Output {
    /// Nothing to send.
    pub fn new() -> Output {
        Output::default()
    }

    pub(crate) fn push(&mut self, transmit: Transmit) {
        self.transmits.push(transmit);
    }

    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.transmits.is_empty()
    }

    /// How many Records.
    pub fn len(&self) -> usize {
        self.transmits.len()
    }

    /// The Records.
    pub fn iter(&self) -> std::slice::Iter<'_, Transmit> {
        self.transmits.iter()
    }

    /// The Records, taken out.
    pub fn into_vec(self) -> Vec<Transmit> {
        self.transmits
    }

    /// Appends another call's Records.
    pub fn append(&mut self, other: Output) {
        self.transmits.extend(other.transmits);
    }
}

impl IntoIterator for Output {
    type Item = Transmit;
    type IntoIter = std::vec::IntoIter<Transmit>;

    fn into_iter(self) -> Self::IntoIter {
        self.transmits.into_iter()
    }
}

impl<'a> IntoIterator for &'a Output {
    type Item = &'a Transmit;
    type IntoIter = std::slice::Iter<'a, Transmit>;

    fn into_iter(self) -> Self::IntoIter {
        self.transmits.iter()
    }
}
