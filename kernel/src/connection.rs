//! Connection file parsing and HMAC-SHA256 message signing.

use anyhow::{bail, Context, Result};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// The JSON connection file Jupyter hands the kernel as `{connection_file}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionInfo {
    pub ip: String,
    pub transport: String,
    pub shell_port: u16,
    pub iopub_port: u16,
    pub stdin_port: u16,
    pub control_port: u16,
    pub hb_port: u16,
    #[serde(default)]
    pub key: String,
    #[serde(default = "default_scheme")]
    pub signature_scheme: String,
}

fn default_scheme() -> String {
    "hmac-sha256".to_owned()
}

impl ConnectionInfo {
    pub fn parse(text: &str) -> Result<Self> {
        let info: ConnectionInfo = serde_json::from_str(text).context("parsing the connection info")?;
        if info.transport != "tcp" {
            bail!("unsupported transport {:?}: only tcp is supported", info.transport);
        }
        if !info.key.is_empty() && info.signature_scheme != "hmac-sha256" {
            bail!("unsupported signature scheme {:?}: only hmac-sha256 is supported", info.signature_scheme);
        }
        Ok(info)
    }

    pub fn endpoint(&self, port: u16) -> String {
        format!("{}://{}:{}", self.transport, self.ip, port)
    }
}

/// Signs and verifies messages. An empty key disables signing, as the spec says.
#[derive(Clone)]
pub struct Signer {
    mac: Option<Hmac<Sha256>>,
}

impl Signer {
    pub fn new(key: &str) -> Self {
        let mac = if key.is_empty() {
            None
        } else {
            Some(Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length"))
        };
        Signer { mac }
    }

    /// Hex signature over the four JSON parts (header, parent, metadata, content).
    pub fn sign(&self, parts: &[&[u8]]) -> String {
        match &self.mac {
            None => String::new(),
            Some(mac) => {
                let mut mac = mac.clone();
                for p in parts {
                    mac.update(p);
                }
                hex::encode(mac.finalize().into_bytes())
            }
        }
    }

    pub fn verify(&self, signature: &[u8], parts: &[&[u8]]) -> Result<()> {
        let Some(mac) = &self.mac else { return Ok(()) };
        let mut mac = mac.clone();
        for p in parts {
            mac.update(p);
        }
        let expected = hex::decode(signature).context("signature is not hex")?;
        mac.verify_slice(&expected).map_err(|_| anyhow::anyhow!("message signature does not match"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify() {
        let s = Signer::new("secret");
        let parts: [&[u8]; 4] = [b"{}", b"{}", b"{}", b"{\"a\":1}"];
        let sig = s.sign(&parts);
        assert_eq!(sig.len(), 64);
        s.verify(sig.as_bytes(), &parts).unwrap();
        assert!(s.verify(sig.as_bytes(), &[b"{}", b"{}", b"{}", b"{}"]).is_err());
    }

    #[test]
    fn empty_key_means_unsigned() {
        let s = Signer::new("");
        assert_eq!(s.sign(&[b"x"]), "");
        s.verify(b"", &[b"x"]).unwrap();
    }
}
