//! The sans-I/O USP Agent: `agent.handle(record, now)` returns the records
//! to send; one module per message it answers.
