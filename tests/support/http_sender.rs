//! The fake Discord as an HTTP interactions sender: it signs each interaction with a fixed
//! test key (Ed25519 over `timestamp + body`, as Discord does) and POSTs it to the bot's
//! `/interactions`. [`super::FakeDiscord::send_over_http`] makes the fake send every
//! interaction this way, building the payload exactly as for the gateway, and record the HTTP
//! response as the interaction's callback, so the same flows run over either transport.
//!
//! The raw helpers ([`HttpSender::post`]) let tests send what Discord would not: bad
//! signatures, missing headers, old timestamps, garbage bodies.

use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signer, SigningKey};

/// A fixed test key: the bot under test is configured with [`public_key_hex`].
const TEST_SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5,
    0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&TEST_SEED)
}

/// The public key to put in the bot's `[discord] public_key`.
pub fn public_key_hex() -> String {
    hex(key().verifying_key().as_bytes())
}

/// Unix seconds now, as Discord writes `X-Signature-Timestamp`.
pub fn timestamp_now() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string()
}

/// The hex signature of `timestamp + body` with the test key.
pub fn sign(timestamp: &str, body: &[u8]) -> String {
    let mut message = timestamp.as_bytes().to_vec();
    message.extend_from_slice(body);
    hex(&key().sign(&message).to_bytes())
}

/// An HTTP answer from the bot.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// POSTs interactions to one bot endpoint.
#[derive(Clone, Debug)]
pub struct HttpSender {
    client: reqwest::Client,
    /// `http://127.0.0.1:PORT/interactions`.
    pub url: String,
}

impl HttpSender {
    /// A sender for the bot listening on `addr` (`127.0.0.1:PORT`).
    pub fn new(addr: &str) -> HttpSender {
        HttpSender {
            // No pooling across tests' runtimes matters here; loopback only.
            client: reqwest::Client::builder().no_proxy().build().expect("reqwest client"),
            url: format!("http://{addr}/interactions"),
        }
    }

    /// The same endpoint through a new connection pool (after the server
    /// closed a connection, e.g. refusing a body without reading it).
    pub fn fresh(&self) -> HttpSender {
        HttpSender::new(self.url.trim_start_matches("http://").trim_end_matches("/interactions"))
    }

    /// POSTs `body` as Discord does: JSON, signed now with the test key.
    pub async fn post_signed(&self, body: &[u8]) -> HttpAnswer {
        let ts = timestamp_now();
        let sig = sign(&ts, body);
        self.post(
            &[
                ("content-type", "application/json"),
                ("x-signature-ed25519", &sig),
                ("x-signature-timestamp", &ts),
            ],
            body.to_vec(),
        )
        .await
    }

    /// POSTs `body` with exactly `headers`.
    pub async fn post(&self, headers: &[(&str, &str)], body: Vec<u8>) -> HttpAnswer {
        let mut request = self.client.post(&self.url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the bot's endpoint answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        HttpAnswer {
            status,
            content_type,
            body,
        }
    }
}
