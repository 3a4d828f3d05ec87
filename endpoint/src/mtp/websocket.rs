//! WebSocket client MTP (in progress).
