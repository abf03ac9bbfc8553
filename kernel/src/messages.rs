//! Jupyter wire messages (protocol 5.3): header, framing and signing.
//!
//! Content is kept as `serde_json::Value`; the handlers build it with `json!`
//! so each reply's shape sits next to the code that produces it.

use crate::connection::Signer;
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeromq::ZmqMessage;

pub const PROTOCOL_VERSION: &str = "5.3";
const DELIMITER: &[u8] = b"<IDS|MSG>";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub msg_id: String,
    pub session: String,
    pub username: String,
    pub date: String,
    pub msg_type: String,
    pub version: String,
}

impl Header {
    fn new(session: &str, msg_type: &str) -> Self {
        Header {
            msg_id: uuid::Uuid::new_v4().to_string(),
            session: session.to_owned(),
            username: "kernel".to_owned(),
            date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            msg_type: msg_type.to_owned(),
            version: PROTOCOL_VERSION.to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    /// ROUTER identities of the sender (empty for iopub).
    pub identities: Vec<Bytes>,
    pub header: Header,
    /// The parent's header, or `{}`.
    pub parent_header: Value,
    pub metadata: Value,
    pub content: Value,
    pub buffers: Vec<Bytes>,
}

impl Message {
    pub fn msg_type(&self) -> &str {
        &self.header.msg_type
    }

    /// A new message caused by `parent` (a reply or an iopub message).
    /// Replies go back to the parent's identities; iopub ignores them.
    pub fn child(parent: &Message, session: &str, msg_type: &str, content: Value) -> Message {
        Message {
            identities: parent.identities.clone(),
            header: Header::new(session, msg_type),
            parent_header: serde_json::to_value(&parent.header).unwrap_or_else(|_| json!({})),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }

    /// A message with no parent (e.g. the `starting` status).
    pub fn orphan(session: &str, msg_type: &str, content: Value) -> Message {
        Message {
            identities: Vec::new(),
            header: Header::new(session, msg_type),
            parent_header: json!({}),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }

    /// Parse and verify a multipart message received on a ROUTER socket.
    pub fn from_zmq(msg: ZmqMessage, signer: &Signer) -> Result<Message> {
        let frames = msg.into_vec();
        let Some(delim) = frames.iter().position(|f| f.as_ref() == DELIMITER) else {
            bail!("message has no <IDS|MSG> delimiter");
        };
        if frames.len() < delim + 6 {
            bail!("message has {} frames after the delimiter, need 5", frames.len() - delim - 1);
        }
        let identities = frames[..delim].to_vec();
        let signature = &frames[delim + 1];
        let parts = &frames[delim + 2..delim + 6];
        signer.verify(signature, &[&parts[0], &parts[1], &parts[2], &parts[3]])?;
        let header: Header = serde_json::from_slice(&parts[0]).context("bad header")?;
        let parent_header: Value = serde_json::from_slice(&parts[1]).context("bad parent_header")?;
        let metadata: Value = serde_json::from_slice(&parts[2]).context("bad metadata")?;
        let content: Value = serde_json::from_slice(&parts[3]).context("bad content")?;
        Ok(Message { identities, header, parent_header, metadata, content, buffers: frames[delim + 6..].to_vec() })
    }

    /// Serialize and sign. `topic` is prepended for iopub (instead of identities).
    pub fn to_zmq(&self, signer: &Signer, topic: Option<&str>) -> ZmqMessage {
        let header = serde_json::to_vec(&self.header).expect("header serializes");
        let parent = serde_json::to_vec(&self.parent_header).expect("json serializes");
        let metadata = serde_json::to_vec(&self.metadata).expect("json serializes");
        let content = serde_json::to_vec(&self.content).expect("json serializes");
        let signature = signer.sign(&[&header, &parent, &metadata, &content]);
        let mut frames: Vec<Bytes> = match topic {
            Some(t) => vec![Bytes::from(t.to_owned())],
            None => self.identities.clone(),
        };
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(signature));
        frames.push(Bytes::from(header));
        frames.push(Bytes::from(parent));
        frames.push(Bytes::from(metadata));
        frames.push(Bytes::from(content));
        frames.extend(self.buffers.iter().cloned());
        ZmqMessage::try_from(frames).expect("non-empty frame list")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_identities_and_signature() {
        let signer = Signer::new("k");
        let parent = Message::orphan("s", "execute_request", json!({"code": "1"}));
        let mut m = Message::child(&parent, "kernel", "execute_reply", json!({"status": "ok"}));
        m.identities = vec![Bytes::from_static(b"id1")];
        let back = Message::from_zmq(m.to_zmq(&signer, None), &signer).unwrap();
        assert_eq!(back.identities, m.identities);
        assert_eq!(back.msg_type(), "execute_reply");
        assert_eq!(back.parent_header["msg_id"], parent.header.msg_id);
        assert!(Message::from_zmq(m.to_zmq(&Signer::new("other"), None), &signer).is_err());
    }
}
