//! Message Transfer Protocol clients: MQTT 5 / 3.1.1, WebSocket, and an
//! in-process link, carrying Records to and from the sans-I/O cores.
