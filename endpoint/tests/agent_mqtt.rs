//! The Agent runtime and a ControllerClient, each on our MQTT client,
//! through a real mosquitto broker: the Agent's Connect Record, requests
//! and responses, a subscription and its notifications (from a Set and
//! from a provider report), and a clean shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

#[path = "agent/fixture.rs"]
#[allow(dead_code)]
mod fixture;

use std::time::Duration;
use usp_testkit::Mosquitto;

use fixture::{AGENT, CTRL, Log, room};
use usp_endpoint::agent::{Agent, runtime};
use usp_endpoint::controller::{
    ClientConfig, ConnectedMtp, Controller, ControllerClient, Incoming, NotifType, SubscriptionSpec,
};
use usp_endpoint::datamodel::Report;
use usp_endpoint::mtp::{
    mqtt::{MqttClient, MqttConfig, Role},
    retry::RetryPolicy,
};
use usp_proto::{
    usp::{Set, notify::Notification, set::UpdateObject},
    usp_record::mqtt_connect_record::MqttVersion,
};

fn config(eid: &str, role: Role, port: u16) -> MqttConfig {
    MqttConfig {
        retry: RetryPolicy { min_wait: Duration::from_millis(50), multiplier: 1000, max_wait: None },
        ..MqttConfig::new(eid, role, "127.0.0.1", port).with_version(MqttVersion::V5)
    }
}

#[tokio::test]
async fn controller_and_agent_over_mosquitto() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let broker = Mosquitto::start();

        let (ctrl_mqtt, ctrl_link) =
            MqttClient::connect(config(CTRL, Role::Controller, broker.port())).await.unwrap();
        let (client, mut notifications) =
            ControllerClient::spawn(Controller::new(CTRL).unwrap(), ctrl_link, ClientConfig::default());

        let log = Log::default();
        let agent = Agent::builder(AGENT, room(&log)).full_access(CTRL).build(runtime::system_now()).unwrap();
        let reports = agent.report_queue();
        let agent_config =
            config(AGENT, Role::Agent, broker.port()).with_peer(CTRL, "usp/controller/self::rules");
        let (agent_mqtt, agent_link) = MqttClient::connect(agent_config).await.unwrap();
        let agent = runtime::spawn(agent, agent_link);

        // R-MTP.6: the Agent's MQTT client announced it.
        let Some(Incoming::Connected(c)) = notifications.recv().await else { panic!() };
        assert_eq!(c.from, AGENT);
        assert!(matches!(c.mtp, ConnectedMtp::Mqtt { .. }));

        let get = client.get(AGENT, ["Device.DeviceInfo.SerialNumber"]).await.unwrap();
        assert_eq!(get.req_path_results[0].resolved_path_results[0].result_params["SerialNumber"], "SN101");

        let spec = SubscriptionSpec::new(
            "light",
            NotifType::ValueChange,
            ["Device.IoTCapability.3.BinaryControl.Value"],
        )
        .unwrap()
        .with_notif_retry(true);
        let _sub = client.subscribe(AGENT, &spec).await.unwrap();

        client
            .set(
                AGENT,
                Set::new(false).object(
                    UpdateObject::new("Device.IoTCapability.3.BinaryControl.").required("Value", "true"),
                ),
            )
            .await
            .unwrap();
        let n = notifications.next_notification().await.unwrap();
        let Some(Notification::ValueChange(v)) = n.kind() else { panic!("{n:?}") };
        assert_eq!(
            (v.param_path.as_str(), v.param_value.as_str()),
            ("Device.IoTCapability.3.BinaryControl.Value", "true")
        );

        reports.push(Report::ValueText {
            path: "Device.IoTCapability.3.BinaryControl.Value".into(),
            value: "false".into(),
        });
        let n = notifications.next_notification().await.unwrap();
        let Some(Notification::ValueChange(v)) = n.kind() else { panic!("{n:?}") };
        assert_eq!(v.param_value, "false");
        // The NotifyResp came back over MQTT: no retry pending. (The
        // client published it before this Get, on the same topic, so the
        // Agent has it once the Get is answered.)
        client.get(AGENT, ["Device.LocalAgent.EndpointID"]).await.unwrap();
        assert_eq!(agent.call(|a| a.pending_notifications()).await.unwrap(), 0);

        let agent = agent.shutdown().await.unwrap();
        assert_eq!(agent.export_persistent().subscriptions.len(), 0, "not persistent");
        agent_mqtt.shutdown(Duration::from_secs(1)).await;
        ctrl_mqtt.shutdown(Duration::from_secs(1)).await;
    })
    .await
    .expect("test did not finish in time");
}
