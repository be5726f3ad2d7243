//! Floor 2-3: notifications. The alerts table's DynamoDB stream is the outbox: every
//! committed alert change appears there exactly once per shard, in order, and is
//! retried until handled — so a notification is never lost even when SNS is down.
//! [`handle_stream`] turns stream records into [`Notification`]s and publishes them.

pub mod local;
mod notification;
mod publisher;
mod retry;
mod stream;

pub use notification::{Notification, NotifyEvent};
pub use publisher::{LogPublisher, PublishError, Publisher, RecordingPublisher, SnsPublisher};
pub use retry::{RetryQueue, handle_retries};
pub use stream::{handle_stream, stream_record_from_sdk};
