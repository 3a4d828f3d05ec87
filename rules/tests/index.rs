//! The compiled index: a notification costs work for the rules it can
//! match, not for every rule loaded.

mod common;

use common::*;

#[test]
fn a_thousand_non_matching_rules_cost_nothing() {
    let mut text = String::new();
    // 500 rules on other parameters of the same Agents...
    for i in 0..500 {
        text.push_str(&format!(
            "[rule.other-path-{i}]\nwhen = {{ value_change = \"Device.Node.{}.IoTCapability.{}.LevelSensor.Value\", agents = \"proto::room-*\" }}\n[[rule.other-path-{i}.then]]\npublish = \"x\"\n",
            i % 50 + 2,
            i / 50 + 1
        ));
    }
    // ...500 on the same parameter of other Agents...
    for i in 0..500 {
        text.push_str(&format!(
            "[rule.other-agent-{i}]\nwhen = {{ value_change = \"Device.Node.1.IoTCapability.1.LevelSensor.Value\", agents = \"proto::hall-{i}\" }}\n[[rule.other-agent-{i}.then]]\npublish = \"x\"\n"
        ));
    }
    // ...and the one that matches.
    text.push_str(
        "[rule.match]\nwhen = { value_change = \"Device.Node.1.IoTCapability.1.LevelSensor.Value\", agents = \"proto::room-{room}\" }\n[[rule.match.then]]\npublish = \"hit {room}\"\n",
    );
    let mut h = H::new(&text);
    assert_eq!(h.engine.rules().len(), 1001);
    let before = h.engine.stats();
    let out = h.vc("proto::room-7", "Device.Node.1.IoTCapability.1.LevelSensor.Value", "21");
    assert_eq!(published_names(&out), vec!["hit 7"]);
    let after = h.engine.stats();
    assert_eq!(after.notifications - before.notifications, 1);
    assert_eq!(after.candidates - before.candidates, 1, "the index proposed exactly one trigger");
    assert_eq!(after.evaluations - before.evaluations, 1, "exactly one rule evaluated");
    // A second notification of the same Agent reuses its index.
    let out = h.vc("proto::room-7", "Device.Node.1.IoTCapability.1.LevelSensor.Value", "22");
    assert_eq!(published_names(&out), vec!["hit 7"]);
    assert_eq!(h.engine.stats().candidates - after.candidates, 1);
    // A parameter nobody watches: no candidates at all.
    let s = h.engine.stats();
    h.vc("proto::room-7", "Device.Node.1.IoTCapability.1.LevelSensor.Unit", "degC");
    assert_eq!(h.engine.stats().candidates, s.candidates);
    assert_eq!(h.engine.stats().evaluations, s.evaluations);
}
