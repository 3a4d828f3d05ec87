//! `Device.LocalAgent.` (TR-181 Device:2.18 with the USP additions; see
//! `agent-datamodel.md` §1–§7).
//!
//! Modelled here: the LocalAgent's own parameters and events, `MTP.{i}`
//! (with `WebSocket.` and `MQTT.`), `Controller.{i}` (with `MTP.{i}`,
//! `E2ESession.`, `BootParameter.{i}`, `TransferCompletePolicy.`),
//! `Certificate.{i}`, `Subscription.{i}`, `Request.{i}` and
//! `ControllerTrust.` (`Role.{i}.Permission.{i}`, `Credential.{i}`,
//! `Challenge.{i}`). `Threshold.{i}`, `Monitor.{i}` and `Watchdog.{i}` are
//! not modelled.
//!
//! Reference parameters declare their target tables, so paths such as
//! `Device.LocalAgent.Subscription.7.Recipient+.EndpointID` are checked
//! against the schema across the hop, and strong references are emptied
//! when their target row is deleted.
//!
//! Choices: `Alias` parameters are write-once (non-functional keys may not
//! change, R-KEY.1); so is `Subscription.ID`, part of the non-functional
//! key (Recipient, ID).

use super::ModelError;
use super::device_info::set_text;
use crate::datamodel::schema::{CommandKind, ObjAccess, ObjectBuilder, SchemaBuilder};
use crate::datamodel::store::Store;
use crate::datamodel::value::ParamType;

/// MTP protocol names (`SupportedProtocols`, `MTP.{i}.Protocol`).
pub const PROTOCOLS: &[&str] = &["CoAP", "WebSocket", "STOMP", "MQTT", "UDS"];
/// `Subscription.{i}.NotifType` values.
pub const NOTIF_TYPES: &[&str] =
    &["ValueChange", "ObjectCreation", "ObjectDeletion", "OperationComplete", "Event"];
/// `Request.{i}.Status` values.
pub const REQUEST_STATUS: &[&str] = &["Requested", "Active", "Canceling", "Canceled", "Success", "Error"];

const CONTROLLER: &str = "Device.LocalAgent.Controller.";
const ROLE: &str = "Device.LocalAgent.ControllerTrust.Role.";
const CERTIFICATE: &str = "Device.LocalAgent.Certificate.";

fn s(n: u32) -> ParamType {
    ParamType::string().max_len(n)
}

fn alias_key(t: &mut ObjectBuilder) {
    t.unique_key(&["Alias"]);
    t.param("Alias", ParamType::alias()).write_once();
}

fn retry(o: &mut ObjectBuilder, prefix: &str) {
    o.param(
        &format!("{prefix}MinimumWaitInterval"),
        ParamType::unsigned_int().range(1, 65535).units("seconds"),
    )
    .read_write()
    .default("5");
    o.param(&format!("{prefix}IntervalMultiplier"), ParamType::unsigned_int().range(1000, 65535))
        .read_write()
        .default("2000");
}

/// Adds `Device.LocalAgent.`.
pub fn define(b: &mut SchemaBuilder) {
    b.root().object("LocalAgent", |la| {
        la.param("EndpointID", ParamType::string());
        la.param("SoftwareVersion", s(64));
        la.param("UpTime", ParamType::unsigned_int().units("seconds")).ignore_value_change();
        la.param("SupportedProtocols", ParamType::string().enumeration(PROTOCOLS).list());
        la.param(
            "SupportedFingerprintAlgorithms",
            ParamType::string().enumeration(&["SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"]).list(),
        );
        la.param("AdvertisedDeviceSubtypes", ParamType::string().list()).read_write();
        la.param("MaxSubscriptionChangeAdoptionTime", ParamType::unsigned_int().min(5).units("seconds"))
            .read_write()
            .default("5");
        la.param("SupportedNumberOfSubscriptions", ParamType::int().min(-1)).default("-1");
        la.param(
            "SupportedThresholdOperator",
            ParamType::string().enumeration(&["Rise", "Fall", "Cross", "Eq", "NotEq"]).list(),
        );
        la.event("Periodic", |_| {});
        la.event("WakeUp", |_| {});
        la.event("TransferComplete", |e| {
            for name in ["Command", "CommandKey", "Requestor", "Affected", "TransferURL", "FaultString"] {
                e.arg(name, ParamType::string());
            }
            e.arg("TransferType", ParamType::string().enumeration(&["Download", "Upload"]));
            e.arg("StartTime", ParamType::date_time());
            e.arg("CompleteTime", ParamType::date_time());
            e.arg("FaultCode", ParamType::unsigned_int());
            e.arg("CheckSumAlgorithm", ParamType::string());
            e.arg("CheckSum", ParamType::string());
        });
        la.command("AddCertificate", CommandKind::Sync, |c| {
            c.input("Alias", ParamType::alias());
            c.input("Certificate", ParamType::string()).mandatory();
        });

        la.table("MTP", |m| {
            m.access(ObjAccess::AddDelete);
            alias_key(m);
            m.param("Enable", ParamType::boolean()).read_write();
            m.param("Status", ParamType::string().enumeration(&["Up", "Down", "Error"])).default("Down");
            m.param("Protocol", ParamType::string().enumeration(PROTOCOLS)).read_write().default("WebSocket");
            m.param("EnableMDNS", ParamType::boolean()).read_write().default("true");
            m.object("WebSocket", |w| {
                w.param("Interfaces", ParamType::string().list()).read_write();
                w.param("Port", ParamType::unsigned_int().range(1, 65535)).read_write().default("8443");
                w.param("Path", ParamType::string()).read_write();
                w.param("EnableEncryption", ParamType::boolean()).read_write().default("true");
                w.param("KeepAliveInterval", ParamType::unsigned_int().min(1).units("seconds"))
                    .read_write()
                    .default("60");
            });
            m.object("MQTT", |q| {
                q.param("Reference", ParamType::string().weak_ref(None)).read_write();
                q.param("ResponseTopicConfigured", s(65535)).read_write();
                q.param("ResponseTopicDiscovered", s(65535));
                q.param("PublishQoS", ParamType::unsigned_int().range(0, 2)).read_write();
            });
        });

        la.table("Controller", |c| {
            c.access(ObjAccess::AddDelete);
            alias_key(c);
            c.functional_key(&["EndpointID"]);
            c.param("EndpointID", ParamType::string()).read_write();
            c.param("Enable", ParamType::boolean()).read_write();
            c.param("AssignedRole", ParamType::string().list().strong_ref(ROLE)).read_write();
            c.param("InheritedRole", ParamType::string().list().strong_ref(ROLE));
            c.param("Credential", ParamType::string().list().strong_ref(CERTIFICATE)).read_write();
            c.param("ControllerCode", s(128)).read_write();
            c.param("ProvisioningCode", s(64)).read_write();
            c.param("PeriodicNotifInterval", ParamType::unsigned_int().min(1).units("seconds"))
                .read_write()
                .default("86400");
            c.param("PeriodicNotifTime", ParamType::date_time()).read_write();
            retry(c, "USPNotifRetry");
            c.param("OnBoardingComplete", ParamType::boolean()).read_write();
            c.param("OnBoardingRestartTime", ParamType::unsigned_int().units("seconds")).read_write();
            c.command("SendOnBoardRequest", CommandKind::Sync, |_| {});
            c.command("AddMyCertificate", CommandKind::Sync, |cmd| {
                cmd.input("Alias", ParamType::alias());
                cmd.input("Certificate", ParamType::string()).mandatory();
            });
            c.table("MTP", |m| {
                m.access(ObjAccess::AddDelete);
                alias_key(m);
                m.functional_key(&["Protocol"]);
                m.param("Enable", ParamType::boolean()).read_write();
                m.param("Protocol", ParamType::string().enumeration(PROTOCOLS))
                    .read_write()
                    .default("WebSocket");
                m.param("Order", ParamType::unsigned_int().min(1)).read_write().default("1");
                m.object("WebSocket", |w| {
                    w.param("Host", s(256)).read_write();
                    w.param("Port", ParamType::unsigned_int().range(1, 65535)).read_write().default("443");
                    w.param("Path", ParamType::string()).read_write();
                    w.param("EnableEncryption", ParamType::boolean()).read_write().default("true");
                    w.param("IsEncrypted", ParamType::boolean());
                    w.param("KeepAliveInterval", ParamType::unsigned_int().min(1).units("seconds"))
                        .read_write()
                        .default("60");
                    w.param("CurrentRetryCount", ParamType::unsigned_int());
                    retry(w, "SessionRetry");
                    w.param("USPServiceRef", ParamType::string().weak_ref(None));
                    w.command("Reset", CommandKind::Sync, |_| {});
                });
                m.object("MQTT", |q| {
                    q.param("Reference", ParamType::string().weak_ref(None)).read_write();
                    q.param("Topic", s(65535)).read_write();
                    q.param("PublishRetainResponse", ParamType::boolean()).read_write();
                    q.param("PublishRetainNotify", ParamType::boolean()).read_write();
                });
            });
            c.object("E2ESession", |e| {
                e.param("SessionMode", ParamType::string().enumeration(&["Require", "Allow", "Forbid"]))
                    .read_write()
                    .default("Allow");
                e.param("Status", ParamType::string().enumeration(&["Up", "Negotiating", "Down"]))
                    .default("Down");
                e.param("SessionExpiration", ParamType::unsigned_int().units("seconds")).read_write();
                retry(e, "SessionRetry");
                e.param("CurrentRetryCount", ParamType::unsigned_int());
                e.param("MaxUSPRecordSize", ParamType::unsigned_int().range(0, 0).min(512)).read_write();
                e.param("MaxRetransmitTries", ParamType::int().range(-1, 10)).read_write();
                e.param("PayloadSecurity", ParamType::string().enumeration(&["Plaintext", "TLS"]))
                    .read_write()
                    .default("TLS");
                e.command("Reset", CommandKind::Sync, |_| {});
            });
            c.table("BootParameter", |p| {
                p.access(ObjAccess::AddDelete);
                alias_key(p);
                p.functional_key(&["ParameterName"]);
                p.param("Enable", ParamType::boolean()).read_write();
                p.param("ParameterName", s(256)).read_write();
            });
            c.object("TransferCompletePolicy", |t| {
                t.param("ResultTypeFilter", ParamType::string().enumeration(&["Success", "Failure", "Both"]))
                    .read_write()
                    .default("Both");
            });
        });

        la.table("Certificate", |c| {
            alias_key(c);
            c.functional_key(&["SerialNumber", "Issuer"]);
            c.param("Enable", ParamType::boolean()).read_write();
            c.param("SerialNumber", s(64));
            c.param("Issuer", s(256));
            c.command("Delete", CommandKind::Sync, |_| {});
            c.command("GetFingerprint", CommandKind::Sync, |cmd| {
                cmd.input(
                    "FingerprintAlgorithm",
                    ParamType::string().enumeration(&["SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"]),
                )
                .mandatory();
                cmd.output("Fingerprint", ParamType::hex_binary());
            });
        });

        la.table("Subscription", |t| {
            t.access(ObjAccess::AddDelete);
            alias_key(t);
            t.unique_key(&["Recipient", "ID"]);
            t.param("Enable", ParamType::boolean()).read_write();
            t.param("Recipient", ParamType::string().strong_ref(CONTROLLER));
            t.param("ID", s(64)).write_once();
            t.param("CreationDate", ParamType::date_time());
            t.param("NotifType", ParamType::string().enumeration(NOTIF_TYPES))
                .read_write()
                .default("ValueChange");
            t.param("ReferenceList", s(256).list()).read_write();
            t.param(
                "TriggerAction",
                ParamType::string().enumeration(&["Notify", "Config", "NotifyAndConfig"]),
            )
            .read_write()
            .default("Notify");
            t.param("TriggerConfigSettings", ParamType::string().list()).read_write();
            t.param("Persistent", ParamType::boolean()).read_write();
            t.param("TimeToLive", ParamType::unsigned_int().units("seconds")).read_write();
            t.param("NotifRetry", ParamType::boolean()).read_write();
            t.param("NotifExpiration", ParamType::unsigned_int().units("seconds")).read_write();
        });

        la.table("Request", |r| {
            alias_key(r);
            r.functional_key(&["Originator", "Command", "CommandKey"]);
            r.param("Originator", ParamType::string());
            r.param("Command", ParamType::string().weak_ref(None));
            r.param("CommandKey", ParamType::string());
            r.param("Status", ParamType::string().enumeration(REQUEST_STATUS)).default("Requested");
            r.command("Cancel", CommandKind::Sync, |_| {});
        });

        la.object("ControllerTrust", |ct| {
            ct.param("UntrustedRole", ParamType::string().list().strong_ref(ROLE)).read_write();
            ct.param("BannedRole", ParamType::string().strong_ref(ROLE)).read_write();
            ct.param("SecuredRoles", ParamType::string().list().strong_ref(ROLE)).read_write();
            ct.param("TOFUAllowed", ParamType::boolean()).read_write();
            ct.param("TOFUInactivityTimer", ParamType::unsigned_int().units("seconds")).read_write();
            ct.command("RequestChallenge", CommandKind::Sync, |c| {
                c.input("ChallengeRef", ParamType::string()).mandatory();
                c.input("RequestExpiration", ParamType::unsigned_int()).default("900");
                c.output("Instruction", ParamType::base64());
                c.output("InstructionType", ParamType::string());
                c.output("ValueType", ParamType::string());
                c.output("ChallengeID", ParamType::string());
            });
            ct.command("ChallengeResponse", CommandKind::Sync, |c| {
                c.input("ChallengeID", ParamType::string()).mandatory();
                c.input("Value", ParamType::base64()).mandatory();
            });
            ct.table("Role", |r| {
                r.access(ObjAccess::AddDelete);
                alias_key(r);
                r.functional_key(&["Name"]);
                r.param("Enable", ParamType::boolean()).read_write();
                r.param("Name", s(64)).read_write();
                r.table("Permission", |p| {
                    p.access(ObjAccess::AddDelete);
                    alias_key(p);
                    p.functional_key(&["Order"]);
                    p.param("Enable", ParamType::boolean()).read_write();
                    p.param("Order", ParamType::unsigned_int()).read_write();
                    p.param("Targets", ParamType::string().list()).read_write();
                    for right in ["Param", "Obj", "InstantiatedObj", "CommandEvent"] {
                        p.param(right, ParamType::string().len(4, Some(4))).read_write().default("----");
                    }
                });
            });
            ct.table("Credential", |c| {
                c.access(ObjAccess::AddDelete);
                alias_key(c);
                c.functional_key(&["Credential"]);
                c.param("Enable", ParamType::boolean()).read_write();
                c.param("Role", ParamType::string().list().strong_ref(ROLE)).read_write();
                c.param("Credential", ParamType::string().strong_ref(CERTIFICATE)).read_write();
                c.param(
                    "AllowedUses",
                    ParamType::string().enumeration(&["MTP-only", "MTP-and-USP", "MTP-and-broker"]),
                )
                .read_write()
                .default("MTP-only");
            });
            ct.table("Challenge", |c| {
                c.access(ObjAccess::AddDelete);
                alias_key(c);
                c.param("Description", s(256)).read_write();
                c.param("Role", ParamType::string().strong_ref(ROLE)).read_write();
                c.param("Enable", ParamType::boolean()).read_write();
                c.param("Type", ParamType::string().enumeration(&["Passphrase"]))
                    .read_write()
                    .default("Passphrase");
                c.param("Value", ParamType::base64()).read_write().secured();
                c.param("ValueType", ParamType::string()).read_write();
                c.param("Instruction", ParamType::base64()).read_write();
                c.param("InstructionType", ParamType::string()).read_write();
                c.param("Retries", ParamType::unsigned_int()).read_write();
                c.param("LockoutPeriod", ParamType::int().units("seconds")).read_write().default("30");
            });
        });
    });
}

/// The Agent's identity, written into `Device.LocalAgent.`.
#[derive(Clone, Debug)]
pub struct LocalAgentInfo<'a> {
    /// `EndpointID`.
    pub endpoint_id: &'a str,
    /// `SoftwareVersion`.
    pub software_version: &'a str,
    /// `SupportedProtocols` (names from [`PROTOCOLS`]).
    pub supported_protocols: &'a [&'a str],
}

/// Fills the LocalAgent's own read-only parameters.
pub fn populate(store: &mut Store, info: &LocalAgentInfo<'_>) -> Result<(), ModelError> {
    set_text(store, "Device.LocalAgent.EndpointID", info.endpoint_id)?;
    set_text(store, "Device.LocalAgent.SoftwareVersion", info.software_version)?;
    set_text(store, "Device.LocalAgent.SupportedProtocols", &info.supported_protocols.join(","))?;
    set_text(store, "Device.LocalAgent.SupportedFingerprintAlgorithms", "SHA-256")?;
    set_text(store, "Device.LocalAgent.SupportedThresholdOperator", "")?;
    Ok(())
}
