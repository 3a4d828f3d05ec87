//! MQTT client MTP (in progress).
