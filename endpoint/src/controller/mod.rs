//! The sans-I/O USP Controller: requests with unique msg_ids, responses
//! matched by msg_id, timeouts, typed results and notification streams.
