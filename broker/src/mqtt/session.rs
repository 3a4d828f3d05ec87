//! One MQTT connection, from CONNECT to close.
//!
//! Life of a connection:
//! 1. read CONNECT (within `connect_timeout_ms`), pick the 3.1.1 or 5 codec;
//! 2. decide ([`super::connect::decide`]); refused → CONNACK with the reason,
//!    close;
//! 3. attach to the fabric, take over an older connection with the same
//!    ClientId, send CONNACK;
//! 4. loop: handle the packets in the read buffer, move queued deliveries
//!    into the write buffer, write it out, then wait for the next event —
//!    bytes from the client, deliveries in the queue, room for a blocked
//!    QoS 1 publish, keep-alive expiry, takeover, shutdown;
//! 5. on the way out: the last will (unless the client said DISCONNECT),
//!    an MQTT 5 DISCONNECT with the reason, detach.
//!
//! The task holds no lock across an `.await`, and while a QoS 1 publish
//! waits for room in a subscriber's queue it stops *reading* but keeps
//! *writing* its own queue, so two connections publishing to each other
//! cannot wait on each other forever.

use std::{net::SocketAddr, pin::pin, sync::Arc, time::Duration};

use bytes::BytesMut;
use rumqttd::protocol::{
    ConnAck, ConnectReturnCode, Disconnect, DisconnectReasonCode, Packet, PingResp, PubComp, PubCompReason,
};
use tokio::{
    io::AsyncWriteExt,
    time::{Instant, timeout, timeout_at},
};
use tokio_util::sync::CancellationToken;

use super::{
    Version,
    codec::{self, Codec, Inbound},
    connect::{self, ConnectPacket, PeerCertificate},
    frame::FrameError,
    inflight::Inflight,
    publish::Ack,
    will,
};
use crate::{
    attachment::Attachment,
    broker::Shared,
    registry::{Mtp, NewEntry},
    router::{Delivery, Message, Pending},
    stats::DropReason,
    transport::{ReadSize, Transport},
};

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exit {
    /// The client sent DISCONNECT (MQTT 5 reason 0x04 asks for the will).
    Disconnected { will: bool },
    /// The client closed the socket, or it failed.
    Closed,
    /// Nothing received for 1.5 × keep-alive.
    IdleTimeout,
    /// The client broke the protocol.
    Protocol(DisconnectReasonCode),
    /// A new connection with the same ClientId took over.
    TakenOver,
    /// The broker is shutting down.
    Shutdown,
}

enum Event {
    Read(std::io::Result<usize>),
    Room,
    Outbox,
    KeepAlive,
    Stop,
}

/// State of an accepted connection.
pub(super) struct Session {
    pub(super) att: Attachment,
    pub(super) codec: Codec,
    client_id: String,
    idle_timeout: Option<Duration>,
    pub(super) inflight: Inflight,
    /// Inbound QoS 2 packet identifiers between PUBREC and PUBREL.
    pub(super) awaiting_release: Vec<u16>,
    /// Boxed: most connections have none, and the task stays small.
    will: Option<Box<Message>>,
    pub(super) client_max_packet: usize,
    /// A QoS 1/2 publish waiting for room, and the acknowledgement to send
    /// when it is done.
    pub(super) pending: Option<(Pending, Option<Ack>)>,
    pub(super) wbuf: BytesMut,
    pub(super) batch: Vec<Delivery>,
    /// A publish was routed since the last flush.
    pub(super) routed: bool,
    /// Ends this connection: cancelled by a takeover, and (as a child of
    /// the broker's token) by shutdown.
    kick: CancellationToken,
    last_read: Instant,
}

/// Serves one MQTT connection to its end.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    mut io: Transport,
    peer: SocketAddr,
    certificate: PeerCertificate,
    deadline: Instant,
) {
    let mut rbuf = BytesMut::new();
    let mut read_size = ReadSize::default();
    // The handshake's state (the CONNECT packet, the decision) and the
    // goodbye's live in boxed futures, freed when done: the task of an idle
    // connection holds just the session and the `run` loop (about 1.4 KiB).
    let handshake =
        Box::pin(handshake(shared, &mut io, &mut rbuf, &mut read_size, peer, certificate, deadline));
    let Some(mut session) = handshake.await else {
        return;
    };
    let exit = match session.flush(&mut io).await {
        Ok(()) => session.run(&mut io, &mut rbuf, &mut read_size).await,
        Err(exit) => exit,
    };
    Box::pin(session.finish(exit, &mut io)).await;
}

/// CONNECT → decision → CONNACK (queued in the session's write buffer).
async fn handshake(
    shared: Arc<Shared>,
    io: &mut Transport,
    rbuf: &mut BytesMut,
    read_size: &mut ReadSize,
    peer: SocketAddr,
    certificate: PeerCertificate,
    deadline: Instant,
) -> Option<Session> {
    let max = shared.limits.max_packet_size();
    let (version, packet) = match timeout_at(deadline, read_connect(io, rbuf, read_size, max)).await {
        Ok(Ok(first)) => first,
        Ok(Err(Some(FrameError::UnsupportedProtocol(level)))) => {
            // MQTT 3.1.1 §3.1.2.2: answer an unknown level with return code 1.
            tracing::debug!(%peer, level, "unsupported MQTT protocol level");
            let refused = Packet::ConnAck(
                ConnAck { session_present: false, code: ConnectReturnCode::RefusedProtocolVersion },
                None,
            );
            let mut out = BytesMut::new();
            if Codec::new(Version::V311, max).write(refused, &mut out).is_ok() {
                let _ = timeout(shared.write_timeout(), io.write_all_flush(&out)).await;
            }
            shared.stats.connection_refused();
            return None;
        }
        Ok(Err(_)) | Err(_) => {
            shared.stats.connection_refused();
            return None;
        }
    };
    let codec = Codec::new(version, max);
    let Some(connect) = ConnectPacket::from_packet(packet) else {
        shared.stats.connection_refused();
        return None;
    };
    let id = shared.next_connection_id();
    let accepted =
        match connect::decide(&shared.policy, &shared.limits, version, &connect, &certificate, || {
            shared.assign_client_id(id)
        }) {
            Ok(accepted) => accepted,
            Err((reason, connack)) => {
                tracing::debug!(%peer, %reason, "CONNECT refused");
                let mut out = BytesMut::new();
                if codec.write(Packet::ConnAck(connack, None), &mut out).is_ok() {
                    let _ = timeout(shared.write_timeout(), io.write_all_flush(&out)).await;
                }
                shared.stats.connection_refused();
                return None;
            }
        };
    let will = will::prepare(&shared, &accepted.identity, id, &connect).map(Box::new);
    let att = Attachment::new(
        &shared,
        id,
        NewEntry {
            identity: accepted.identity,
            mtp: match version {
                Version::V311 => Mtp::Mqtt311,
                Version::V5 => Mtp::Mqtt5,
            },
            tls: io.is_tls(),
            client_id: Some(accepted.client_id.clone()),
            peer: Some(peer),
            reply_topic: accepted.reply_topic,
        },
    );
    let kick = shared.shutdown.child_token();
    let mut session = Session {
        att,
        codec,
        client_id: accepted.client_id,
        idle_timeout: accepted.idle_timeout,
        inflight: Inflight::new(accepted.send_window),
        awaiting_release: Vec::new(),
        will,
        client_max_packet: accepted.client_max_packet,
        pending: None,
        wbuf: BytesMut::new(),
        batch: Vec::new(),
        routed: false,
        kick,
        last_read: Instant::now(),
    };
    // Only a connection that cannot even encode its CONNACK fails here.
    session.write(accepted.connack).ok()?;
    if let Some((_, older)) = shared.clients.insert(session.client_id.clone(), (id, session.kick.clone())) {
        older.cancel();
    }
    Some(session)
}

/// Reads until a whole first packet is there. `Err(None)`: the socket
/// closed or failed.
async fn read_connect(
    io: &mut Transport,
    rbuf: &mut BytesMut,
    read_size: &mut ReadSize,
    max: usize,
) -> Result<(Version, Packet), Option<FrameError>> {
    loop {
        if let Some(first) = codec::read_connect(rbuf, max).map_err(Some)? {
            return Ok(first);
        }
        match io.read_some(rbuf, read_size).await {
            Ok(0) | Err(_) => return Err(None),
            Ok(_) => {}
        }
    }
}

impl Session {
    pub(super) fn version(&self) -> Version {
        self.codec.version()
    }

    /// Encodes a packet into the write buffer.
    pub(super) fn write(&mut self, packet: Packet) -> Result<(), Exit> {
        self.codec.write(packet, &mut self.wbuf).map_err(|e| {
            tracing::warn!(error = %e, "cannot encode a server packet");
            Exit::Protocol(DisconnectReasonCode::ImplementationSpecificError)
        })
    }

    async fn run(&mut self, io: &mut Transport, rbuf: &mut BytesMut, read_size: &mut ReadSize) -> Exit {
        // Futures that live across iterations: registered once, not once per
        // packet. `stop` fires on takeover and, as a child of the broker's
        // token, on shutdown.
        let mut stop = pin!(self.kick.clone().cancelled_owned());
        // The keep-alive timer is armed at some deadline and, when it fires,
        // moved to `last_read + timeout` if packets came meanwhile: one timer
        // update per keep-alive period instead of one per packet.
        let mut keep_alive = pin!(tokio::time::sleep_until(Instant::now()));
        let mut armed = false;
        loop {
            if let Err(exit) = self.process(rbuf) {
                return exit;
            }
            if rbuf.is_empty() && rbuf.capacity() > 0 {
                // An idle connection keeps no read buffer.
                *rbuf = BytesMut::new();
            }
            self.deliver();
            // Counted before written: a peer that got a Record finds it in
            // the figures.
            self.att.flush_counts();
            if std::mem::take(&mut self.routed) && !self.wbuf.is_empty() {
                // Let the subscribers just woken write their deliveries
                // before this connection writes its PUBACKs: the Records are
                // what the round trip waits for.
                tokio::task::yield_now().await;
            }
            if let Err(exit) = self.flush(io).await {
                return exit;
            }
            let blocked = self.pending.is_some();
            if let Some(timeout) = self.idle_timeout
                && !armed
            {
                keep_alive.as_mut().reset(self.last_read + timeout);
                armed = true;
            }
            let event = tokio::select! {
                biased;
                _ = &mut stop => Event::Stop,
                read = io.read_some(rbuf, read_size), if !blocked => Event::Read(read),
                _ = wait_pending(&self.pending), if blocked => Event::Room,
                _ = self.att.outbox().wait_ready(), if self.inflight.room() > 0 => Event::Outbox,
                _ = &mut keep_alive, if armed => Event::KeepAlive,
            };
            match event {
                Event::Read(Ok(0)) | Event::Read(Err(_)) => return Exit::Closed,
                Event::Read(Ok(_)) => self.last_read = Instant::now(),
                Event::Room => {
                    if let Err(exit) = self.resume_pending() {
                        return exit;
                    }
                }
                Event::Outbox => {}
                Event::KeepAlive => {
                    let Some(timeout) = self.idle_timeout else { continue };
                    let now = Instant::now();
                    if blocked {
                        // Not reading is our doing, not the client's silence.
                        keep_alive.as_mut().reset(now + timeout);
                    } else if now >= self.last_read + timeout {
                        return Exit::IdleTimeout;
                    } else {
                        keep_alive.as_mut().reset(self.last_read + timeout);
                    }
                }
                Event::Stop if self.att.shared().shutdown.is_cancelled() => return Exit::Shutdown,
                Event::Stop => return Exit::TakenOver,
            }
        }
    }

    /// Handles every whole packet in the read buffer, unless a publish is
    /// waiting for room (the rest then stays in the buffer).
    fn process(&mut self, rbuf: &mut BytesMut) -> Result<(), Exit> {
        while self.pending.is_none() {
            match self.codec.read(rbuf) {
                Ok(None) => break,
                Ok(Some(inbound)) => self.handle(inbound)?,
                Err(e) => {
                    tracing::debug!(client_id = %self.client_id, error = %e, "protocol error");
                    return Err(Exit::Protocol(match e {
                        FrameError::TooLarge(_) => DisconnectReasonCode::PacketTooLarge,
                        FrameError::UnexpectedPacket(_) | FrameError::UnsupportedProtocol(_) => {
                            DisconnectReasonCode::ProtocolError
                        }
                        FrameError::Malformed | FrameError::FieldTooLong | FrameError::Codec(_) => {
                            DisconnectReasonCode::MalformedPacket
                        }
                    }));
                }
            }
        }
        Ok(())
    }

    fn handle(&mut self, inbound: Inbound) -> Result<(), Exit> {
        let packet = match inbound {
            Inbound::Publish { publish, properties, qos, pkid } => {
                return self.handle_publish(publish, properties, qos, pkid);
            }
            Inbound::Packet(packet) => packet,
        };
        match packet {
            Packet::PubAck(ack, _) => {
                self.inflight.ack(ack.pkid);
                Ok(())
            }
            Packet::PubRel(rel, _) => {
                self.awaiting_release.retain(|&id| id != rel.pkid);
                self.write(Packet::PubComp(PubComp { pkid: rel.pkid, reason: PubCompReason::Success }, None))
            }
            // The broker never sends QoS 2, so these answer nothing of ours.
            Packet::PubRec(..) | Packet::PubComp(..) => Ok(()),
            Packet::Subscribe(subscribe, properties) => self.handle_subscribe(subscribe, properties),
            Packet::Unsubscribe(unsubscribe, _) => self.handle_unsubscribe(unsubscribe),
            Packet::PingReq(_) => self.write(Packet::PingResp(PingResp)),
            Packet::Disconnect(disconnect, _) => Err(Exit::Disconnected {
                will: disconnect.reason_code == DisconnectReasonCode::DisconnectWithWillMessage,
            }),
            // A second CONNECT, or anything else out of place.
            _ => Err(Exit::Protocol(DisconnectReasonCode::ProtocolError)),
        }
    }

    fn resume_pending(&mut self) -> Result<(), Exit> {
        let done = match &mut self.pending {
            Some((pending, _)) => self.att.shared().router.resume(pending).is_some(),
            None => false,
        };
        if done && let Some((_, Some(ack))) = self.pending.take() {
            self.write(ack.into_packet())?;
        }
        Ok(())
    }

    /// Writes the buffer out, under the write timeout.
    async fn flush(&mut self, io: &mut Transport) -> Result<(), Exit> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        match timeout(self.att.shared().write_timeout(), io.write_all_flush(&self.wbuf)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return Err(Exit::Closed),
        }
        self.wbuf.clear();
        if self.wbuf.capacity() > 256 * 1024 || self.att.outbox().is_empty() {
            // Nothing more to send soon: give the buffer back.
            self.wbuf = BytesMut::new();
        }
        Ok(())
    }

    /// Last will, goodbye, detach.
    async fn finish(mut self, exit: Exit, io: &mut Transport) {
        let shared = self.att.shared().clone();
        if matches!(exit, Exit::Protocol(_)) {
            shared.stats.protocol_error();
        }
        if let Some((pending, _)) = self.pending.take() {
            self.att.lost(DropReason::QueueFull, pending.blocked.len());
        }
        let send_will = !matches!(exit, Exit::Disconnected { will: false } | Exit::Shutdown);
        if let Some(will) = self.will.take().filter(|_| send_will)
            && let Some(blocked) = self.att.publish(*will)
        {
            // Nobody is left to wait for room: those deliveries are lost.
            self.att.lost(DropReason::QueueFull, blocked.blocked.len());
        }
        if exit == Exit::Shutdown {
            // Drain what the window allows before saying goodbye.
            self.deliver();
            self.att.flush_counts();
        }
        let reason = match exit {
            Exit::TakenOver => Some(DisconnectReasonCode::SessionTakenOver),
            Exit::Shutdown => Some(DisconnectReasonCode::ServerShuttingDown),
            Exit::IdleTimeout => Some(DisconnectReasonCode::KeepAliveTimeout),
            Exit::Protocol(code) => Some(code),
            Exit::Disconnected { .. } | Exit::Closed => None,
        };
        if let (Version::V5, Some(reason_code)) = (self.version(), reason) {
            let _ = self.write(Packet::Disconnect(Disconnect { reason_code }, None));
        }
        if exit != Exit::Closed && !self.wbuf.is_empty() {
            let _ = timeout(shared.write_timeout(), io.write_all_flush(&self.wbuf)).await;
        }
        let _ = timeout(Duration::from_secs(1), io.shutdown()).await;
        let lost = self.inflight.clear();
        self.att.lost(DropReason::SubscriberGone, lost);
        let id = self.att.id();
        shared.clients.remove_if(&self.client_id, |_, (holder, _)| *holder == id);
        // Dropping the attachment unsubscribes and unregisters.
    }
}

async fn wait_pending(pending: &Option<(Pending, Option<Ack>)>) {
    if let Some((pending, _)) = pending {
        pending.wait().await;
    }
}
