//! Live alerts: every alert event pushed to the analysts' browsers over WebSocket, by
//! API Gateway's WebSocket API in AWS and by `vigil-local` on a laptop, with the same
//! messages (`asyncapi.json` is their contract).
//!
//! - [`Ticket`]: browsers cannot set an `Authorization` header on a WebSocket, so a
//!   client trades its bearer token for a ticket (`POST /auth/ws-ticket`) and connects
//!   with `?ticket=`. A ticket lives [`TICKET_TTL`] and works once, and only its
//!   SHA-256 is stored. Why not the JWT itself in the URL or in
//!   `Sec-WebSocket-Protocol`: a connection URL ends up in access logs (API Gateway's,
//!   a proxy's, the browser's history), and a JWT there is a bearer credential valid
//!   for hours; a used ticket in a log is worth nothing.
//! - [`Connection`]: who is connected, with which [`Filters`]; kept in the connections
//!   table in AWS (the pusher reads it), in the process locally.
//! - [`ServerMessage`] / [`ClientMessage`]: what flows each way.

pub mod asyncapi;
mod connection;
pub mod gateway;
mod message;
mod ticket;

pub use connection::{CONNECTION_TTL, Connection, ConnectionId, Filters};
pub use message::{
    Action, ClientMessage, ErrorMessage, ErrorType, EventMessage, Pong, PongType, ServerMessage,
    Subscribed, SubscribedType,
};
pub use ticket::{TICKET_TTL, Ticket, TicketGrant, TicketHash, TicketIssued};
