//! A simulated building: one real USP Agent per room, over MQTT or the USP
//! WebSocket MTP, with the IoT data model of agent-datamodel.md §8.7 and
//! values that drift realistically.
//!
//! | file | holds |
//! |---|---|
//! | `naming.rs` | room numbers (`101`, `102`, … per floor) and Endpoint IDs `proto::room-<n>` |
//! | `room.rs` | a room's data model: nodes, capabilities, the `Untrusted` Role |
//! | `devices.rs` | the providers: actuators (Set, Toggle/StepUp/StepDown), `Device.Reboot()` |
//! | `physics.rs` | temperature, humidity, occupancy, window — sans-I/O |
//! | `world.rs` | the task that steps every room and reports sensor readings |
//! | `rng.rs` | the deterministic random numbers behind `--seed` |
//! | `resources.rs` | RSS and the open-files limit |
//!
//! Frugality, so that ten thousand rooms fit in one process: one schema
//! (`Arc<Schema>`) for the whole building, one tokio runtime, two tasks
//! per room (its Agent and its MTP client) plus one task for the whole
//! world, and no per-room timers — the world steps rooms in slices.
//!
//! Trust: every Agent gives full access to the rules engine of the site
//! (`self::<site>-rules`), to the CLI's default Controller
//! (`self::uspmesh-cli`) and to each extra Controller configured; any other
//! Controller gets the `Untrusted` Role (read `Device.DeviceInfo.` and
//! `Device.Node.`, nothing else). Agents announce themselves (MQTTConnect
//! Record) to the rules engine and the extra Controllers.

mod devices;
mod naming;
mod physics;
mod resources;
mod rng;
mod room;
mod world;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};
use std::time::Duration;

use bytes::Bytes;
use tokio::{
    sync::{Semaphore, watch},
    task::{JoinHandle, JoinSet},
};
use usp_endpoint::{
    agent::{Agent, AgentError, runtime},
    datamodel::{DataModel, Schema, Store, models},
    mtp::{Link, LinkError, RecordSender, SessionStatus, mqtt::Peer},
};

pub(crate) use naming::{endpoint_id, room_number};
pub(crate) use resources::{ensure_open_files, rss_bytes};
pub(crate) use world::Pace;

use crate::mtp::{AnySender, ConnectError, Mtp, MtpClient};
use devices::{DeviceRoot, RoomDevices, SharedSettings, Thresholds, read_settings};
use physics::{Controls, Outside};
use rng::Rng;
use room::{Initial, RoomIds};
use world::{Reported, RoomSim, World};

/// The site name when none is given: the rules engine is then
/// `self::site1-rules`.
pub(crate) const DEFAULT_SITE: &str = "site1";

/// The Endpoint ID of a site's rules engine.
pub(crate) fn rules_engine_id(site: &str) -> String {
    format!("self::{site}-rules")
}

/// Temperature sensor thresholds at start (°C).
const TEMPERATURE_THRESHOLDS: Thresholds = Thresholds { low: 16.0, high: 26.0 };
/// Humidity sensor thresholds at start (%).
const HUMIDITY_THRESHOLDS: Thresholds = Thresholds { low: 30.0, high: 70.0 };

/// What to simulate.
#[derive(Debug, Clone)]
pub(crate) struct SimConfig {
    /// How many rooms (Agents).
    pub(crate) rooms: usize,
    /// Rooms a floor, for the numbering.
    pub(crate) per_floor: u32,
    /// The MTP of every Agent (its Endpoint ID is replaced per room).
    pub(crate) mtp: Mtp,
    /// Controllers given full access.
    pub(crate) trusted: Vec<String>,
    /// Controllers each Agent announces itself to (MQTTConnect Records).
    pub(crate) announce_to: Vec<String>,
    /// Seed of every random draw of the physics and of the Agents.
    pub(crate) seed: u64,
    /// How the world runs.
    pub(crate) pace: Pace,
    /// Most rooms connecting at the same time.
    pub(crate) connect_concurrency: usize,
}

/// Why the building could not be started.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SimError {
    /// A room's data model or Agent could not be built (a bug, or an
    /// invalid Controller Endpoint ID).
    #[error("cannot build {room}: {error}")]
    Room {
        /// The room's Endpoint ID.
        room: String,
        /// What failed.
        error: String,
    },
    /// The first room could not connect (the broker is unreachable,
    /// refuses us, or the MTP configuration is unusable).
    #[error("{room} cannot connect: {error}")]
    Connect {
        /// The room's Endpoint ID.
        room: String,
        /// What failed.
        error: ConnectError,
    },
}

/// Counts the Records a room's Agent sends (responses, notifications).
#[derive(Debug, Clone)]
struct Counted {
    inner: AnySender,
    sent: Arc<AtomicU64>,
}

impl RecordSender for Counted {
    async fn send(&self, to: &str, record: Bytes) -> Result<(), LinkError> {
        let result = self.inner.send(to, record).await;
        if result.is_ok() {
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

/// What is shared by every room being started.
struct Plan {
    config: SimConfig,
    schema: Arc<Schema>,
    ids: Arc<RoomIds>,
    sent: Arc<AtomicU64>,
}

/// A room ready to connect.
struct Prepared {
    eid: String,
    agent: Agent,
    mtp: Mtp,
    sim: RoomSim,
}

fn prepare(plan: &Plan, index: usize) -> Result<Prepared, SimError> {
    let config = &plan.config;
    let number = room_number(index, config.per_floor);
    let eid = endpoint_id(number);
    let fail = |error: String| SimError::Room { room: eid.clone(), error };
    let physics = physics::Room::new(Rng::new(config.seed, index as u64), &Controls::default());
    let first = Reported::first(&physics, &TEMPERATURE_THRESHOLDS, &HUMIDITY_THRESHOLDS);
    let now = runtime::system_now();
    let initial = Initial {
        at: now,
        temperature: world::text(first.temperature),
        humidity: world::text(first.humidity),
        occupied: first.occupied,
        window_open: first.window_open,
    };
    let protocol = match config.mtp {
        Mtp::Mqtt(_) => "MQTT",
        Mtp::Ws(_) => "WebSocket",
    };
    let mut store = Store::new(plan.schema.clone());
    room::populate(
        &mut store,
        number,
        &eid,
        protocol,
        &initial,
        &TEMPERATURE_THRESHOLDS,
        &HUMIDITY_THRESHOLDS,
    )
    .map_err(|e| fail(e.to_string()))?;
    let settings = SharedSettings::new(read_settings(&store, &plan.ids));
    let mut dm = DataModel::with_store(store);
    let nodes = dm.object_id("Device.Node.").ok_or_else(|| fail("no Device.Node. in the schema".into()))?;
    dm.mount(nodes, Box::new(RoomDevices::new(plan.ids.clone(), settings.clone())));
    let root = dm.schema().root();
    dm.mount(root, Box::new(DeviceRoot::new(plan.ids.clone(), dm.report_queue(), now)));
    let mut builder =
        Agent::builder(eid.clone(), dm).seed(Rng::new(config.seed ^ 0x5EED_A6E7, index as u64).next_u64());
    for controller in &config.trusted {
        builder = builder.full_access(controller.clone());
    }
    let agent = builder.build(now).map_err(|e: AgentError| fail(e.to_string()))?;
    let sim = RoomSim::new(physics, settings, agent.report_queue(), first);
    let mut mtp = config.mtp.for_endpoint(&eid);
    if let Mtp::Mqtt(c) = &mut mtp {
        c.peers = config
            .announce_to
            .iter()
            .map(|id| Peer { endpoint_id: id.clone(), topic: format!("usp/controller/{id}") })
            .collect();
    }
    Ok(Prepared { eid, agent, mtp, sim })
}

/// One running room.
struct RoomHandle {
    mtp: MtpClient,
    agent: runtime::AgentHandle,
}

fn launch(plan: &Plan, room: Prepared, mtp: MtpClient, link: Link<AnySender>) -> (RoomHandle, RoomSim) {
    let link =
        Link { sender: Counted { inner: link.sender, sent: plan.sent.clone() }, incoming: link.incoming };
    let agent = runtime::spawn(room.agent, link);
    (RoomHandle { mtp, agent }, room.sim)
}

/// A snapshot of the building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Status {
    /// Rooms whose MTP session is up.
    pub(crate) connected: usize,
    /// Rooms.
    pub(crate) rooms: usize,
    /// Sensor readings reported so far.
    pub(crate) readings: u64,
    /// Records the Agents sent so far (responses and notifications).
    pub(crate) records_sent: u64,
}

/// A running building.
pub(crate) struct Building {
    rooms: Vec<RoomHandle>,
    world: JoinHandle<()>,
    stop: watch::Sender<bool>,
    readings: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
}

impl Building {
    /// Builds and connects every room, calling `progress(connected, total)`
    /// as rooms come up, then starts the world. The first room connects
    /// alone and fails the start if it cannot (the broker is unreachable);
    /// the others connect up to `connect_concurrency` at a time and retry
    /// on their own until they are in.
    pub(crate) async fn start(
        config: SimConfig,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Building, SimError> {
        let schema = Arc::new(
            models::agent_schema()
                .map_err(|e| SimError::Room { room: "the schema".into(), error: e.to_string() })?,
        );
        let ids = Arc::new(
            RoomIds::new(&schema)
                .map_err(|e| SimError::Room { room: "the schema".into(), error: e.to_string() })?,
        );
        let total = config.rooms;
        let concurrency = config.connect_concurrency.max(1);
        let pace = config.pace;
        let seed = config.seed;
        let plan = Arc::new(Plan { config, schema, ids: ids.clone(), sent: Arc::new(AtomicU64::new(0)) });

        let first = prepare(&plan, 0)?;
        let (mtp, link) = first
            .mtp
            .clone()
            .connect()
            .await
            .map_err(|error| SimError::Connect { room: first.eid.clone(), error })?;
        let mut started = vec![Some(launch(&plan, first, mtp, link))];
        started.resize_with(total, || None);
        progress(1, total);

        let permits = Arc::new(Semaphore::new(concurrency));
        let mut tasks = JoinSet::new();
        for index in 1..total {
            let (plan, permits) = (plan.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let room = prepare(&plan, index)?;
                let eid = room.eid.clone();
                let (mtp, link) =
                    room.mtp.clone().start().map_err(|error| SimError::Connect { room: eid, error })?;
                mtp.wait_connected().await;
                Ok::<_, SimError>((index, launch(&plan, room, mtp, link)))
            });
        }
        let mut connected = 1;
        while let Some(joined) = tasks.join_next().await {
            let (index, room) = match joined {
                Ok(result) => result?,
                Err(e) => return Err(SimError::Room { room: "a room".into(), error: e.to_string() }),
            };
            if let Some(slot) = started.get_mut(index) {
                *slot = Some(room);
            }
            connected += 1;
            progress(connected, total);
        }
        let (rooms, sims): (Vec<RoomHandle>, Vec<RoomSim>) = started.into_iter().flatten().unzip();
        let readings = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let world = World::new(sims, Outside::new(Rng::new(seed, u64::MAX)), ids, pace, readings.clone());
        let world = tokio::spawn(world.run(stopped));
        Ok(Building { rooms, world, stop, readings, sent: plan.sent.clone() })
    }

    /// How the building is doing.
    pub(crate) fn status(&self) -> Status {
        Status {
            connected: self.rooms.iter().filter(|r| r.mtp.status() == SessionStatus::Connected).count(),
            rooms: self.rooms.len(),
            readings: self.readings.load(Ordering::Relaxed),
            records_sent: self.sent.load(Ordering::Relaxed),
        }
    }

    /// Stops the world, then every Agent, then closes every MTP session
    /// properly (DisconnectRecord, MQTT DISCONNECT or WebSocket Close),
    /// waiting at most `grace` for each.
    pub(crate) async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = self.world.await;
        let mut closing = JoinSet::new();
        for room in self.rooms {
            closing.spawn(async move {
                let _ = room.agent.shutdown().await;
                room.mtp.shutdown(grace).await;
            });
        }
        while closing.join_next().await.is_some() {}
    }
}
