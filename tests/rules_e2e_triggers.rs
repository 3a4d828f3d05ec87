//! Trigger kinds of issue 5 that `rules_e2e.rs` does not cover, end to end
//! through the embedded broker over TCP (see `rules_site`): ValueChange on a
//! path with a wildcard capture and on a search expression, Agents chosen
//! by tag, an Agent coming online (and back), and a cron-like schedule whose
//! steps go to every Agent of a tag.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rules_site;
#[path = "../rules/tests/support/sim_agent.rs"]
mod sim;

use std::time::Duration;

use rules_site::*;
use sim::*;
use usp_rules::trace::Verdict;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_capture_in_the_path_fires_for_every_instance_and_names_it() {
    bounded(async {
        let mut site = Site::start(
            rules(
                r#"
                [rule.any-binary-sensor]
                when = { value_change = "Device.IoTCapability.{cap}.BinarySensor.Value", agents = "proto::room-*" }
                [[rule.any-binary-sensor.then]]
                publish = "sensor {cap} {value}"
                "#,
            ),
            None,
        )
        .await;
        let room = site.agent("proto::room-1").await;
        reading(&room.reports, OCCUPANCY, "true");
        assert_eq!(published(&mut site).await.name, "sensor 1 true");
        reading(&room.reports, WINDOW, "true");
        assert_eq!(published(&mut site).await.name, "sensor 6 true");
        site.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_expression_in_the_path_selects_the_instance_by_name() {
    bounded(async {
        let mut site = Site::start(
            rules(
                r#"
                [rule.window-by-name]
                when = { value_change = 'Device.IoTCapability.[Name=="window"].BinarySensor.Value', agents = "proto::room-*" }
                [[rule.window-by-name.then]]
                publish = "window {path} {value}"
                "#,
            ),
            None,
        )
        .await;
        let room = site.agent("proto::room-1").await;
        // Occupancy is a BinarySensor too, but not the one named "window":
        // its change, reported first on the same connection, fires nothing.
        reading(&room.reports, OCCUPANCY, "true");
        reading(&room.reports, WINDOW, "true");
        assert_eq!(published(&mut site).await.name, format!("window {WINDOW} true"));
        reading(&room.reports, OCCUPANCY, "false");
        reading(&room.reports, WINDOW, "false");
        assert_eq!(published(&mut site).await.name, format!("window {WINDOW} false"));
        site.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_chosen_by_tag_and_an_agent_coming_online() {
    bounded(async {
        let mut site = Site::start(
            rules(
                r#"
                [tags]
                sensors = ["proto::sensor-*", "proto::lobby"]

                [rule.tagged-motion]
                when = { value_change = "Device.IoTCapability.1.BinarySensor.Value", tag = "sensors" }
                [[rule.tagged-motion.then]]
                publish = "motion {agent}"

                [rule.hello]
                when = { agent_status = "online", tag = "sensors" }
                [[rule.hello.then]]
                publish = "online {agent}"
                "#,
            ),
            None,
        )
        .await;
        let hall = site.agent("proto::hall-1").await;
        let sensor = site.agent("proto::sensor-2").await;
        // The hall is not in the tag: no online event for it, and its
        // motion (reported first) fires nothing.
        assert_eq!(published(&mut site).await.name, "online proto::sensor-2");
        reading(&hall.reports, OCCUPANCY, "true");
        reading(&sensor.reports, OCCUPANCY, "true");
        assert_eq!(published(&mut site).await.name, "motion proto::sensor-2");

        // Leaving and coming back is coming online again.
        sensor.disconnect().await;
        let _sensor = site.connect("proto::sensor-2", room_agent("proto::sensor-2", "21")).await;
        assert_eq!(published(&mut site).await.name, "online proto::sensor-2");
        let lobby = site.agent("proto::lobby").await;
        assert_eq!(published(&mut site).await.name, "online proto::lobby");
        reading(&lobby.reports, OCCUPANCY, "true");
        assert_eq!(published(&mut site).await.name, "motion proto::lobby");
        site.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekday_schedule_sets_every_connected_agent_of_a_tag() {
    bounded(async {
        let mut site = Site::start(
            rules(
                r#"
                [tags]
                rooms = "proto::room-*"

                [rule.night]
                when = [{ schedule = "mon-fri at 22:00" }, { schedule = "sat,sun at 23:00" }]
                [[rule.night.then]]
                tag = "rooms"
                set = "Device.IoTCapability.5.EnumControl.Value"
                value = "Eco"
                [[rule.night.then]]
                publish = "night"
                "#,
            ),
            None,
        )
        .await;
        let mut a = site.agent("proto::room-1").await;
        let mut b = site.agent("proto::room-2").await;
        let _hall = site.agent("proto::hall-1").await;
        // Monday 00:00 → 21:59: nothing yet.
        site.hand.advance(Duration::from_secs(21 * 3600 + 59 * 60));
        let e = site.api.explain("night").await.unwrap().unwrap();
        assert!(e.recent.is_empty(), "not fired before 22:00: {:?}", e.recent);
        site.hand.advance(Duration::from_secs(60));
        assert_eq!(published(&mut site).await.name, "night");
        let eco = Touch::Set { path: MODE.into(), value: "Eco".into() };
        assert_eq!(a.touched().await, eco);
        assert_eq!(b.touched().await, eco);
        // Tuesday 22:00 comes next, not Monday 23:00.
        site.hand.advance(Duration::from_secs(3600));
        site.hand.advance(Duration::from_secs(23 * 3600));
        assert_eq!(published(&mut site).await.name, "night");
        assert_eq!(a.touched().await, eco);
        // Two firings, Monday and Tuesday 22:00 (the trace may also show
        // Sets whose answers the jump of the manual clock overtook).
        let e = site.api.explain("night").await.unwrap().unwrap();
        let fired: Vec<_> = e.recent.iter().filter(|t| t.verdict == Verdict::Fired).map(|t| t.at).collect();
        let day = Duration::from_secs(24 * 3600);
        let monday_22 = t0() + Duration::from_secs(22 * 3600);
        assert_eq!(fired, [monday_22 + day, monday_22], "{:?}", e.recent);
        site.stop().await;
    })
    .await;
}
