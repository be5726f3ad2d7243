//! Floor 2-3: notifications. The alerts table's DynamoDB stream is the outbox: every
//! committed alert change appears there exactly once per shard, in order, and is
//! retried until handled — so a notification is never lost even when SNS is down.
//! [`handle_stream`] turns stream records into [`Notification`]s and publishes them;
//! [`Pusher`] posts the same events to the WebSocket connections ([`crate::live`]).

pub mod local;
mod notification;
mod publisher;
mod push;
mod retry;
mod stream;

pub use notification::Notification;
pub use publisher::{LogPublisher, PublishError, Publisher, RecordingPublisher, SnsPublisher};
pub use push::{PushReport, Pusher};
pub use retry::{RetryQueue, handle_retries};
pub use stream::{events_in, handle_stream, stream_record_from_sdk};
